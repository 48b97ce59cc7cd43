// Experiment (issue 25, item 4): what holds the heap of a server with N
// ReferenceGrants, step by step in one process (run with --expose-gc):
// Node alone, the modules `serve --kubeconfig` loads, then the cluster view
// filled with N grants as the live source indexes them. Prints V8's used
// heap, its code space and the RSS after each step, and the deltas.
//   node --expose-gc bench/experiments/memory-per-index.ts [grants]
import v8 from 'node:v8';
import { grant } from '../lib/grants.ts';

const N = Number(process.argv[2] ?? 100_000);
const gc = () => {
  for (let i = 0; i < 3; i++) globalThis.gc?.();
};
const mib = (b: number) => Math.round((b / 1048576) * 10) / 10;
function snapshot(step: string, last?: { heap: number; rss: number; code: number }) {
  gc();
  const heap = v8.getHeapStatistics().used_heap_size;
  const code = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'code_space')?.space_used_size ?? 0;
  const extra = v8.getHeapCodeStatistics();
  const rss = process.memoryUsage().rss;
  console.log(
    `${step.padEnd(58)} heap ${String(mib(heap)).padStart(6)} MiB (${last ? `+${mib(heap - last.heap)}` : ''})  code space ${mib(code)}  source+bytecode ${mib(extra.bytecode_and_metadata_size + extra.external_script_source_size)}  rss ${mib(rss)} (${last ? `+${mib(rss - last.rss)}` : ''})`,
  );
  return { heap, rss, code };
}
let s = snapshot('node alone');
// What serve loads before it listens (src/cli/composition.ts, the live branch).
await Promise.all([
  import('#dist/cli/composition.js'),
  import('#dist/server/webhookServer.js'),
  import('#dist/kube/kubeApi.js'),
  import('#dist/kube/kubeConnection.js'),
  import('#dist/cluster/liveClusterSource.js'),
  import('#dist/kube/resourceWatch.js'),
]);
s = snapshot('+ the modules of serve --kubeconfig', s);
const { InMemoryClusterView, viewOptionsFor } = await import('#dist/cluster/inMemoryClusterView.js');
const config = await import('#dist/config/config.js');
const view = new InMemoryClusterView(viewOptionsFor(config.ruleSettings(config.parseConfig({}))));
for (let i = 0; i < N; i++) view.upsert(grant(i, 1000, { full: true }) as never);
s = snapshot(`+ ${N} ReferenceGrants in the view (1,000 namespaces)`, s);
// A decision makes the index build each namespace's lookup (lazily, on its first question).
for (let n = 0; n < 1000; n++) {
  view.isReferenceGranted({ group: 'gateway.kgateway.dev', kind: 'HTTPListenerPolicy', namespace: 'app-1' }, { group: '', kind: 'Service', namespace: `ns-${String(n).padStart(4, '0')}`, name: 'svc-1' });
}
snapshot('+ every namespace asked once', s);
