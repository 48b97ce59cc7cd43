// Experiment (issue 25): where our server's CPU per admission goes when the
// API server is the client, per thread of the process (main JS thread, V8's
// workers, libuv's pool), /proc/PID/task/*/stat around blocks of creates.
//   node bench/experiments/apiserver-threads.ts [creates per block] [rounds]
import { readdirSync, readFileSync } from 'node:fs';
import * as cp from '../../harness/index.ts';
import { chartMatchConditions, makeClient } from '../lib/apiserver.ts';
import { exampleGateway, exampleObject, examplePolicy } from '../lib/bodies.ts';

const perBlock = Number(process.argv[2] ?? 200);
const rounds = Number(process.argv[3] ?? 3);
const extra = process.env.KGA_SERVE_ARGS?.split(/\s+/).filter(Boolean) ?? [];

function threads(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const key = tid === String(pid) ? 'main' : name;
      out.set(key, (out.get(key) ?? 0) + (Number(f[11]) + Number(f[12])) * 10);
      out.set(`${key}:utime`, (out.get(`${key}:utime`) ?? 0) + Number(f[11]) * 10);
    } catch {}
  }
  return out;
}
const diff = (a: Map<string, number>, b: Map<string, number>) => new Map([...b].map(([k, v]) => [k, v - (a.get(k) ?? 0)]));

const conditions = await chartMatchConditions();
const plane = await cp.startControlPlane({});
const server = await cp.startWebhookServer({ kubeconfigPath: plane.kubeconfigPath, extraArgs: ['--profile', 'kgateway-v2.1', ...extra], env: process.env.KGA_SERVE_ENV ? JSON.parse(process.env.KGA_SERVE_ENV) : {} });
try {
  const request = await makeClient(plane.kubeConfig);
  for (const ns of ['kgateway', 'monitoring']) await request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  await request('POST', '/apis/gateway.networking.k8s.io/v1/gatewayclasses', exampleObject('10-gatewayclass.yaml'));
  await request('POST', '/apis/gateway.kgateway.dev/v1alpha1/namespaces/kgateway/gatewayparameters', exampleObject('20-gatewayparameters.yaml'));
  await request('POST', '/apis/gateway.networking.k8s.io/v1beta1/namespaces/monitoring/referencegrants', exampleObject('30-referencegrant.yaml'));
  let seq = 0;
  const create = async (kind: string) => {
    const r = kind === 'gateway'
      ? await request('POST', '/apis/gateway.networking.k8s.io/v1/namespaces/kgateway/gateways', exampleGateway(`gw-${++seq}`, 'kgateway'))
      : await request('POST', '/apis/gateway.kgateway.dev/v1alpha1/namespaces/kgateway/httplistenerpolicies', examplePolicy(`p-${++seq}`, 'kgateway'));
    if (r.status !== 201) throw new Error(`${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
    return r.ms;
  };
  const totals = new Map<string, Map<string, number>>();
  const add = (key: string, d: Map<string, number>) => {
    const t = totals.get(key) ?? new Map();
    for (const [k, v] of d) t.set(k, (t.get(k) ?? 0) + v);
    totals.set(key, t);
  };
  let registered = false;
  for (let r = 0; r < rounds + 1; r++) {
    for (const on of (process.env.KGA_ONLY_NONE ? [false] : r % 2 ? [true, false] : [false, true])) {
      if (on && !registered) await cp.registerWebhooks(plane.kubeConfig, { url: server.url, caPem: server.caPem, matchConditions: conditions });
      if (!on && registered) await cp.unregisterWebhooks(plane.kubeConfig);
      registered = on;
      for (const kind of (process.env.KGA_KINDS ?? 'gateway,policy').split(',')) {
        const before = threads(server.pid!);
        const t0 = Date.now();
        for (let i = 0; i < perBlock; i++) await create(kind);
        const d = diff(before, threads(server.pid!));
        d.set('wall', Date.now() - t0);
        if (r > 0) add(`${kind} ${on ? 'webhook' : 'none'}`, d);
      }
    }
    process.stderr.write(`round ${r} done, load ${(await import('node:os')).loadavg()[0]}\n`);
  }
  const n = perBlock * rounds;
  for (const [key, t] of totals) {
    const rows = [...t].filter(([k, v]) => v > 0 && !k.endsWith(':utime')).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${Math.round((v / n) * 1000)}${t.has(`${k}:utime`) ? ` (user ${Math.round(((t.get(`${k}:utime`) ?? 0) / n) * 1000)})` : ''}`);
    console.log(`${key}: µs per create: ${rows.join(', ')}`);
  }
} finally {
  // SIGTERM first: serve exits cleanly, so a --cpu-prof in KGA_SERVE_ENV writes its profile.
  process.kill(server.pid!, 'SIGTERM');
  for (let i = 0; i < 100 && cp.pidAlive(server.pid!); i++) await new Promise((r) => setTimeout(r, 100));
  await server.stop();
  await plane.stop();
}
