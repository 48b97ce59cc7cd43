// /metrics listens where it is told (the chart: the pod IP), not on every
// interface: `serve --metrics-host`, else config server.metricsHost, else --host.
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnServe, type SpawnedServer } from '../hardening/support.js';

const running: SpawnedServer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.kill()));
});

function status(url: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(url, { timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    req.end();
  });
}

describe('serve --metrics-host', () => {
  it('binds /metrics to that address only', async () => {
    const server = await spawnServe(['--manifests', 'examples', '--metrics-host', '127.0.0.2']);
    running.push(server);
    const metrics = new URL(server.metricsUrl);
    expect(metrics.hostname).toBe('127.0.0.2');
    expect(await status(`${server.metricsUrl}/metrics`)).toBe(200);
    expect(await status(`http://127.0.0.1:${metrics.port}/metrics`)).toBe('ECONNREFUSED');
    // The admission port stays on --host.
    expect(new URL(server.url).hostname).toBe('127.0.0.1');
  });

  it('without it, /metrics shares --host', async () => {
    const server = await spawnServe(['--manifests', 'examples']);
    running.push(server);
    expect(new URL(server.metricsUrl).hostname).toBe('127.0.0.1');
  });
});
