import { once } from 'node:events';
import http, { type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { apiPath, collectionPath, KubeApi } from '../../../src/kube/kubeApi.js';

const grants = { group: 'gateway.networking.k8s.io', plural: 'referencegrants' };

describe('API paths', () => {
  it('encodes every segment, so one taken from a request can add no segment and no query (issue 17 item 4)', () => {
    expect(collectionPath(grants, 'v1', 'x1/../../gatewayclasses?')).toBe('/apis/gateway.networking.k8s.io/v1/namespaces/x1%2F..%2F..%2Fgatewayclasses%3F/referencegrants');
    expect(collectionPath(grants, 'v1', 'monitoring')).toBe('/apis/gateway.networking.k8s.io/v1/namespaces/monitoring/referencegrants');
    expect(collectionPath({ group: '', plural: 'services' }, 'v1')).toBe('/api/v1/services');
    expect(apiPath('apis', 'a#b', 'v1')).toBe('/apis/a%23b/v1');
  });
});

describe('KubeApi.watch', () => {
  // A watch read on node:http(s) as the lists are (issue 25): the events as
  // the API server sends them, one JSON line each, whatever the chunks.
  async function standIn(write: (res: ServerResponse) => void) {
    const server = http.createServer((req, res) => {
      if (!req.url?.includes('watch=true')) return res.writeHead(404).end();
      if (req.url.includes('refused')) return res.writeHead(403, { 'content-type': 'application/json' }).end('{"message":"forbidden: no watch"}');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      write(res);
      return undefined;
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const api = new KubeApi({ getCurrentCluster: () => ({ name: 'c', server: `http://127.0.0.1:${port}` }), applyToHTTPSOptions: async () => undefined });
    return { api, close: () => (server.closeAllConnections(), new Promise((resolve) => server.close(resolve))) };
  }

  it('hands over each event line whole, across chunks, skips a line that is not JSON, and ends with null when the server ends', async () => {
    const { api, close } = await standIn((res) => {
      const first = JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'a' } } });
      res.write(first.slice(0, 10));
      setTimeout(() => {
        res.write(`${first.slice(10)}\nnot json\n${JSON.stringify({ type: 'DELETED', object: { metadata: { name: 'b' } } })}\n`);
        res.end();
      }, 20);
    });
    try {
      const events: string[] = [];
      const ended = new Promise<Error | null>((resolve) =>
        void api.watch('/api/v1/things?watch=true', 'application/json', (type, object) => events.push(`${type} ${(object.metadata as { name: string }).name}`), resolve),
      );
      expect(await ended).toBeNull();
      expect(events).toEqual(['ADDED a', 'DELETED b']);
    } finally {
      await close();
    }
  });

  it('ends a silent stream with a TimeoutError, and rejects a refused watch with its status and message', async () => {
    const { api, close } = await standIn(() => undefined);
    try {
      const ended = new Promise<Error | null>((resolve) => void api.watch('/api/v1/things?watch=true', 'application/json', () => undefined, resolve, 100));
      expect((await ended)?.name).toBe('TimeoutError');
      await expect(api.watch('/api/v1/things?watch=true&refused=1', 'application/json', () => undefined, () => undefined)).rejects.toMatchObject({ statusCode: 403, message: expect.stringContaining('forbidden: no watch') });
    } finally {
      await close();
    }
  });
});
