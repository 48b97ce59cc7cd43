// An HTTPS relay in front of a real kube-apiserver that can hold LIST requests:
// an API server slow to list, for pods pointed at it (KUBERNETES_SERVICE_HOST
// and _PORT). It runs inside the node's network namespace, where the pods can
// reach it, as a plain Node program (type stripping, no imports but node:*):
//
//   nsenter --net=/proc/<pid of the kind node>/ns/net -- node test/support/slowListRelay.ts \
//     --listen <node IP>:16443 --upstream https://<node IP>:6443 \
//     --cert apiserver.crt --key apiserver.key --ca ca.crt [--hold]
//
// It serves with the API server's own certificate (the pods trust the cluster
// CA) and passes every request on with the caller's credentials (its
// ServiceAccount token). A LIST (a GET with `limit=` and no `watch=`, what the
// server's list+watch sends) is held while holding is on, before it reaches the
// API server. stdin: `hold` / `release` (sends the held ones on and stops
// holding). stdout: one JSON object a line: listening, request (from, method,
// path, held), released (count). The fault (a slow list) is the only thing
// faked; the pods, their readiness and the EndpointSlice are real.
import { readFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    listen: { type: 'string' },
    upstream: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    ca: { type: 'string' },
    hold: { type: 'boolean', default: false },
  },
});
if (!values.listen || !values.upstream || !values.cert || !values.key || !values.ca) {
  process.stderr.write('usage: slowListRelay.ts --listen HOST:PORT --upstream URL --cert FILE --key FILE --ca FILE [--hold]\n');
  process.exit(2);
}

const emit = (event: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(event)}\n`);
const upstream = new URL(values.upstream);
const agent = new Agent({ keepAlive: true, ca: readFileSync(values.ca) });
let holding = values.hold;
const held: { req: IncomingMessage; res: ServerResponse }[] = [];

function isList(req: IncomingMessage): boolean {
  if (req.method !== 'GET') return false;
  const query = new URL(req.url ?? '/', 'https://relay').searchParams;
  return query.has('limit') && query.get('watch') !== 'true' && query.get('watch') !== '1';
}

function forward(req: IncomingMessage, res: ServerResponse): void {
  if (res.destroyed || req.destroyed) return; // the caller gave up while it was held
  const out = request(
    new URL(req.url ?? '/', upstream),
    { method: req.method, headers: { ...req.headers, host: upstream.host }, agent },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  out.on('error', (error) => res.destroy(error));
  res.on('close', () => out.destroy());
  req.pipe(out);
}

const server = createServer({ cert: readFileSync(values.cert), key: readFileSync(values.key) }, (req, res) => {
  const hold = holding && isList(req);
  emit({ event: 'request', from: req.socket.remoteAddress, method: req.method, path: req.url, held: hold });
  if (hold) held.push({ req, res });
  else forward(req, res);
});

createInterface({ input: process.stdin }).on('line', (line) => {
  const command = line.trim();
  if (command === 'hold') holding = true;
  if (command === 'release') {
    holding = false;
    const count = held.length;
    for (const h of held.splice(0)) forward(h.req, h.res);
    emit({ event: 'released', count });
  }
});
process.stdin.on('end', () => server.close(() => process.exit(0)));

const separator = values.listen.lastIndexOf(':');
server.listen(Number(values.listen.slice(separator + 1)), values.listen.slice(0, separator), () => emit({ event: 'listening', address: values.listen }));
