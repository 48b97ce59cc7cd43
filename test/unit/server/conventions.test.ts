// What stock tooling expects of the process, read from `serve` itself: the
// default process and Node.js metrics under their usual names (Grafana's and
// kube-prometheus' Node.js dashboards query process_cpu_seconds_total,
// nodejs_eventloop_lag_seconds), log lines whose level is a word and whose
// time is ISO-8601, and the serving certificate's expiry as a gauge that
// follows a reload.
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { writeCertificates } from '../../../src/certificates/files.js';
import { generateCertificates } from '../../../src/certificates/generate.js';
import { startInProcessWebhook } from '../../support/webhookInProcess.js';
import { spawnServe, type SpawnedServer } from '../hardening/support.js';

const spawned: SpawnedServer[] = [];
afterAll(async () => {
  for (const s of spawned) await s.kill('SIGKILL');
});

async function scrape(metricsUrl: string): Promise<string> {
  const res = await fetch(`${metricsUrl}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('serve as a process', () => {
  it('exports the default process and Node.js metrics without a prefix, its readiness, and logs levels as words with ISO-8601 times', async () => {
    const served = await spawnServe(['--manifests', 'examples', '--certs-dir', `${process.env.TMPDIR ?? '/tmp'}/kga-conventions-certs`]);
    spawned.push(served);
    const text = await scrape(served.metricsUrl);
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_heap_size_used_bytes']) {
      expect(text, name).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
    }
    expect(text).not.toMatch(/^# TYPE kgateway_admission_(process|nodejs)_/m);
    expect(sample(text, 'kgateway_admission_ready')).toBe(1);
    expect(sample(text, 'kgateway_admission_certificate_expiry_timestamp_seconds')).toBeGreaterThan(Date.now() / 1000 + 300 * 86400);

    const lines = served.logLines().filter((l) => l.msg !== undefined);
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines) {
      expect(line.level).toBe('info');
      expect(String(line.time)).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      expect(Math.abs(Date.parse(String(line.time)) - Date.now())).toBeLessThan(120_000);
    }
    await served.kill('SIGTERM');
  });
});

describe('kgateway_admission_certificate_expiry_timestamp_seconds', () => {
  it("is the serving certificate's notAfter, and follows a reloaded certificate", async () => {
    const webhook = await startInProcessWebhook();
    try {
      const first = new X509Certificate(await readFile(`${webhook.certsDir}/tls.crt`));
      expect(sample(await scrape(webhook.server.metricsUrl), 'kgateway_admission_certificate_expiry_timestamp_seconds')).toBe(first.validToDate.getTime() / 1000);

      await writeCertificates(webhook.certsDir, await generateCertificates(['127.0.0.1', 'localhost'], 3));
      const renewed = new X509Certificate(await readFile(`${webhook.certsDir}/tls.crt`));
      const deadline = Date.now() + 10_000;
      let value: number | undefined;
      while (Date.now() < deadline) {
        value = sample(await scrape(webhook.server.metricsUrl), 'kgateway_admission_certificate_expiry_timestamp_seconds');
        if (value === renewed.validToDate.getTime() / 1000) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(value).toBe(renewed.validToDate.getTime() / 1000);
      expect(value! - Date.now() / 1000).toBeLessThan(4 * 86400);
    } finally {
      await webhook.server.close();
    }
  });
});
