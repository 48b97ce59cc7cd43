// The ceiling: a bare node:https server with the product's TLS settings and
// certificate that reads the whole request body and answers every POST with a
// constant AdmissionReview. The most a Node webhook can do on this machine.
//
//   node bench/ceiling-server.ts --port N --cert F --key F
//
// GET /__stats answers {"connections","resumed"} so the bench can check that a
// "fresh" run really did a full TLS handshake per request.
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
    // Experiments only: also JSON.parse the body (the least a real webhook must do).
    parse: { type: 'boolean', default: false },
  },
});

const defaults = parseConfig({});
const patch = Buffer.from(
  JSON.stringify([
    {
      op: 'add',
      path: '/spec/infrastructure',
      value: { parametersRef: { group: 'gateway.kgateway.dev', kind: 'GatewayParameters', name: 'agentgateway-otel' } },
    },
  ]),
).toString('base64');
const CONSTANT = JSON.stringify({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  response: { uid: '7f0b2b8e-2a5e-4c3e-9d7e-4a1a7c0e9b11', allowed: true, patchType: 'JSONPatch', patch },
});
const HEADERS = { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(CONSTANT) };

let connections = 0;
let resumed = 0;
const server = https.createServer(
  {
    ...TLS_SETTINGS,
    cert: readFileSync(values.cert!),
    key: readFileSync(values.key!),
    keepAliveTimeout: defaults.server.keepAliveTimeoutMs,
    requestTimeout: 30_000,
  },
  (req, res) => {
    if (req.method === 'GET' && req.url === '/__stats') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ connections, resumed }));
      return;
    }
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (values.parse) {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        JSON.parse(Buffer.concat(chunks).toString('utf8'));
        res.writeHead(200, HEADERS).end(CONSTANT);
      });
      return;
    }
    req.on('data', () => {});
    req.on('end', () => res.writeHead(200, HEADERS).end(CONSTANT));
  },
);
server.on('secureConnection', (socket) => {
  connections++;
  if (socket.isSessionReused()) resumed++;
});
server.listen(Number(values.port), values.host, () => process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`));
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => process.exit(0));
