// The floor: the least any Node webhook must do. A bare node:https server with
// the product's TLS settings, certificate and keep-alive timeout that reads the
// body, JSON.parses it and answers with the request's uid (allowed; on
// /mutate with the same patch as the ceiling's, so the answer is as long).
// No framework, no decision, no log.
//
//   node bench/peers/floor-server.ts --port N --cert F --key F
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseConfig } from '#dist/config/config.js';
import { TLS_SETTINGS } from '#dist/server/tls.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    cert: { type: 'string' },
    key: { type: 'string' },
  },
});

const defaults = parseConfig({});
const PATCH = Buffer.from(
  JSON.stringify([
    {
      op: 'add',
      path: '/spec/infrastructure',
      value: { parametersRef: { group: 'gateway.kgateway.dev', kind: 'GatewayParameters', name: 'agentgateway-otel' } },
    },
  ]),
).toString('base64');

function answer(uid: string, mutate: boolean): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: mutate ? { uid, allowed: true, patchType: 'JSONPatch', patch: PATCH } : { uid, allowed: true },
  });
}

const server = https.createServer(
  {
    ...TLS_SETTINGS,
    cert: readFileSync(values.cert!),
    key: readFileSync(values.key!),
    keepAliveTimeout: defaults.server.keepAliveTimeoutMs,
    requestTimeout: 30_000,
  },
  (req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let uid = '';
      try {
        uid = JSON.parse(Buffer.concat(chunks).toString('utf8'))?.request?.uid ?? '';
      } catch {
        res.writeHead(400).end();
        return;
      }
      const body = answer(uid, req.url?.startsWith('/mutate') === true);
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) }).end(body);
    });
  },
);
server.listen(Number(values.port), values.host, () => process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`));
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => process.exit(0));
