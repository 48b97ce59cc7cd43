// Experiment (issue 25): CPU per request of our server and the floor at the
// API server's pace (one keep-alive connection, one request every few ms)
// against a closed loop (wrk, 16 connections). h2load --h1 -c1 --rps N.
//   node bench/experiments/low-rate.ts [rps] [seconds] [rounds]
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureCertificates } from '#dist/certificates/files.js';
import { admissionBodies } from '../lib/bodies.ts';
import { wrkRun } from '../lib/load.ts';
import { startServer, type RunningServer } from '../lib/servers.ts';
import { run } from '../lib/util.ts';
import { ensureTools } from '../lib/tools.ts';
ensureTools();

const rps = Number(process.argv[2] ?? 200);
const seconds = Number(process.argv[3] ?? 6);
const rounds = Number(process.argv[4] ?? 3);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'kga-lowrate-'));
const certs = await ensureCertificates(path.join(tmp, 'certs'), ['127.0.0.1']);
const bodies = admissionBodies();
const files = { mutate: path.join(tmp, 'm.json'), validate: path.join(tmp, 'v.json'), 'mutate-small': path.join(tmp, 'ms.json') };
writeFileSync(files.mutate, bodies.mutate);
writeFileSync(files.validate, bodies.validate);
// The same Gateway without managedFields and kubectl's last-applied annotation: what the request's size costs.
const small = JSON.parse(bodies.mutate);
delete small.request.object.metadata.managedFields;
delete small.request.object.metadata.annotations;
writeFileSync(files['mutate-small'], JSON.stringify(small));
const fileOf = (e: string): string => files[e as keyof typeof files];
const warnConfig = path.join(tmp, 'warn.yaml');
writeFileSync(warnConfig, 'logLevel: warn\n');
const c = { certFile: certs.certFile, keyFile: certs.keyFile };
const entries = (process.env.KGA_ENTRIES ?? '').split(',').filter(Boolean);
const servers: RunningServer[] = [
  await startServer({ kind: 'floor', name: 'floor', ...c }),
  await startServer({ kind: 'ours', name: 'ours', ...c }),
  await startServer({ kind: 'ours', name: 'ours-warn', config: warnConfig, ...c }),
  ...(await Promise.all(entries.map((entry, i) => startServer({ kind: 'ours', name: `ours:${path.basename(path.dirname(path.dirname(entry)))}${i}`, entry, ...c })))),
];
async function slow(s: RunningServer, endpoint: string) {
  const cpu0 = s.cpuSeconds();
  const r = await run('h2load', ['--h1', '-c1', '-m1', `--rps=${rps}`, `-D${seconds}`, '-d', fileOf(endpoint), '-H', 'content-type: application/json', `${s.url}/${endpoint.replace('-small', '')}?timeout=10s`]);
  const done = Number(/(\d+) succeeded/.exec(r.stdout)?.[1]);
  return ((s.cpuSeconds() - cpu0) * 1e6) / done;
}
const acc = new Map<string, number[]>();
const push = (k: string, v: number) => acc.set(k, [...(acc.get(k) ?? []), v]);
for (let r = 0; r < rounds; r++) {
  for (const s of r % 2 ? [...servers].reverse() : servers) {
    for (const e of ['mutate', 'validate', 'mutate-small']) {
      push(`${s.name} /${e} slow ${rps}/s`, await slow(s, e));
      if (e !== 'mutate-small') push(`${s.name} /${e} wrk16`, (await wrkRun(s, { connections: 16, seconds: 3, bodies: { [`/${e}`]: fileOf(e) } })).serverCpuUsPerReq);
    }
  }
  process.stderr.write(`round ${r + 1}, load ${os.loadavg()[0]}\n`);
}
const med = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor((v.length - 1) / 2)]!;
for (const [k, v] of [...acc].sort()) console.log(k.padEnd(40), 'median', String(Math.round(med(v))).padStart(4), ' rounds', v.map((x) => Math.round(x)).join(' '));
for (const s of servers) await s.stop();
