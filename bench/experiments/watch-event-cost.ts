// Experiment (issue 25): our server's CPU per watch event, two builds side by
// side. Both servers (`serve --kubeconfig`, live view, default config: the
// grant guard watches HTTPListenerPolicies) watch the same real API server
// while HTTPListenerPolicies are created with no webhook registered, so each
// receives the same events at the same moments; utime+stime of each process
// over the blocks ÷ creates.
//   node bench/experiments/watch-event-cost.ts ENTRY_A ENTRY_B [creates per block] [rounds]
import * as cp from '../../harness/index.ts';
import { makeClient } from '../lib/apiserver.ts';
import { exampleObject, examplePolicy } from '../lib/bodies.ts';
import { cpuSeconds } from '../lib/servers.ts';

const [entryA, entryB] = process.argv.slice(2, 4) as [string, string];
const perBlock = Number(process.argv[4] ?? 200);
const rounds = Number(process.argv[5] ?? 5);
const plane = await cp.startControlPlane({});
const servers = [
  await cp.startWebhookServer({ kubeconfigPath: plane.kubeconfigPath, extraArgs: ['--profile', 'kgateway-v2.1'], entry: entryA }),
  await cp.startWebhookServer({ kubeconfigPath: plane.kubeconfigPath, extraArgs: ['--profile', 'kgateway-v2.1'], entry: entryB }),
];
try {
  const request = await makeClient(plane.kubeConfig);
  for (const ns of ['kgateway', 'monitoring']) await request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  await request('POST', '/apis/gateway.networking.k8s.io/v1/gatewayclasses', exampleObject('10-gatewayclass.yaml'));
  let seq = 0;
  const totals = [0, 0];
  for (let r = 0; r <= rounds; r++) {
    const before = servers.map((s) => cpuSeconds(s.pid));
    for (let i = 0; i < perBlock; i++) {
      const res = await request('POST', '/apis/gateway.kgateway.dev/v1alpha1/namespaces/kgateway/httplistenerpolicies', examplePolicy(`p-${++seq}`, 'kgateway'));
      if (res.status !== 201) throw new Error(`${res.status}`);
    }
    // The last events of the block reach the servers a moment after the last create.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const used = servers.map((s, i) => cpuSeconds(s.pid) - before[i]!);
    if (r > 0) used.forEach((u, i) => (totals[i]! += u)); // round 0 warms up
    process.stderr.write(`round ${r}: ${used.map((u) => Math.round((u / perBlock) * 1e6)).join(' / ')} µs per event\n`);
  }
  console.log(`CPU per watch event: ${[entryA, entryB].map((e, i) => `${e}: ${Math.round((totals[i]! / (perBlock * rounds)) * 1e6)} µs`).join(', ')}`);
} finally {
  for (const s of servers) await s.stop();
  await plane.stop();
}
