// Large objects must not run a replica out of memory (issue 21 item 4): a
// tenant creates 70 AgentgatewayBackends of ~1.4 MB each in one namespace
// (a long system prompt in spec.policies.ai.prompt.prepend[].content: a plain
// string without maxLength in the CRD). Each fits the API server's request
// limit (3 MiB) and etcd's (--max-request-bytes, 1.5 MiB by default). One
// LIST page of them was ~100 MB of text held as one string and ~270 MB once
// parsed, on every replica at each start and re-list, and again on every
// reports scan, past the chart's 256Mi memory limit.
//
// The webhook runs as its own process with the heap the chart's container
// gives Node (NODE_OPTIONS below), `--reports` on: it starts (first lists),
// writes the reports, re-lists after a kube-apiserver restart and scans
// again; its peak resident memory (VmHWM) must stay under the chart's limit.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  killKubeApiserver,
  kubeRequest,
  requireControlPlane,
  startControlPlane,
  startKubeApiserver,
  startWebhookServer,
  type ControlPlane,
  type WebhookServer,
} from '../../harness/index.ts';
import { create, ensureNamespaces, metricValue, pollUntil } from './support.js';

const skip = await requireControlPlane();

const OBJECTS = 70;
const PROMPT_BYTES = 1_400_000;
const NAMESPACE = 'tenant-big';
/** charts/kgateway-admission/values.yaml resources.limits.memory. */
const CHART_MEMORY_LIMIT = 256 * 1024 * 1024;
/**
 * Node sizes its heap from the container's memory: in a 256Mi cgroup V8's old
 * generation gets about half of it. The chart adds --max-semi-space-size=8
 * (values.yaml nodeOptions).
 */
const NODE_OPTIONS = '--max-old-space-size=128 --max-semi-space-size=8';
const BACKENDS = `/apis/agentgateway.dev/v1alpha1/namespaces/${NAMESPACE}/agentgatewaybackends`;
const REPORT = `/apis/openreports.io/v1alpha1/namespaces/${NAMESPACE}/reports/kgateway-admission`;
const RESOURCE = 'agentgatewaybackends.agentgateway.dev/v1alpha1';

function largeBackend(i: number): Record<string, unknown> {
  return {
    apiVersion: 'agentgateway.dev/v1alpha1',
    kind: 'AgentgatewayBackend',
    metadata: { name: `large-${i}`, namespace: NAMESPACE },
    spec: {
      ai: { provider: { openai: {} } },
      policies: { ai: { prompt: { prepend: [{ role: 'SYSTEM', content: `${i} ${'x'.repeat(PROMPT_BYTES)}` }] } } },
    },
  };
}

/** Peak and current resident memory of a process, from /proc (Linux). */
function residentMemory(pid: number): { peak: number; now: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { peak: kib('VmHWM'), now: kib('VmRSS') };
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

describe.skipIf(skip)(`${OBJECTS} objects of ~1.4 MB: the webhook starts, re-lists and writes reports within the chart's 256Mi`, () => {
  let cp: ControlPlane;
  let webhook: WebhookServer | undefined;

  beforeAll(async () => {
    cp = await startControlPlane();
    await ensureNamespaces(cp.kubeConfig, NAMESPACE, 'kga-system');
    for (let i = 0; i < OBJECTS; i++) {
      const res = await create(cp.kubeConfig, BACKENDS, largeBackend(i));
      expect(res.status, res.text.slice(0, 300)).toBe(201);
    }
  }, 300_000);

  afterAll(async () => {
    await webhook?.stop();
    await cp?.stop();
  });

  it('peak resident memory stays under the limit through the first lists, a reports scan, a re-list and another scan', async () => {
    webhook = await startWebhookServer({
      kubeconfigPath: cp.kubeconfigPath,
      extraArgs: ['--profile', 'agentgateway-v2.2', '--reports', '--reports-lease-seconds', '3'],
      env: { POD_NAMESPACE: 'kga-system', POD_NAME: 'large-objects', NODE_OPTIONS },
      readyTimeoutMs: 180_000,
    });
    const pid = webhook.pid!;
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    const started = residentMemory(pid);
    process.stderr.write(`[e2e] large objects: synced, RSS ${mib(started.now)}, peak ${mib(started.peak)}\n`);

    // The leader's scan: one result per backend, from the view (no LIST of the backends).
    const reportWith = async (what: string, check: (results: { resources: { name: string }[] }[]) => boolean) =>
      pollUntil(
        what,
        async () => {
          const res = await kubeRequest(cp.kubeConfig, 'GET', REPORT);
          return res.status === 200 && check(res.body.results) ? true : undefined;
        },
        90_000,
        500,
      );
    await reportWith('the report of the large objects', (results) => results.length === OBJECTS);
    const reported = residentMemory(pid);
    process.stderr.write(`[e2e] large objects: report written, RSS ${mib(reported.now)}, peak ${mib(reported.peak)}\n`);

    // A re-list: the API server restarts, every watch fails and lists again.
    const relistsBefore = await metricValue(webhook.metricsUrl, 'kgateway_admission_watch_lists_total', { resource: RESOURCE, reason: 'relist' });
    await killKubeApiserver(cp);
    await startKubeApiserver(cp);
    await pollUntil(
      'the backends re-listed',
      async () => ((await metricValue(webhook!.metricsUrl, 'kgateway_admission_watch_lists_total', { resource: RESOURCE, reason: 'relist' })) > relistsBefore ? true : undefined),
      120_000,
      500,
    );
    // And another scan after it: one more backend shows up in the report.
    expect((await create(cp.kubeConfig, BACKENDS, largeBackend(OBJECTS))).status).toBe(201);
    await reportWith('the report with the new object', (results) => results.length === OBJECTS + 1);

    expect(alive(), `the webhook exited:\n${webhook.logs().slice(-3000)}`).toBe(true);
    const end = residentMemory(pid);
    process.stderr.write(`[e2e] large objects: after the re-list and scan, RSS ${mib(end.now)}, peak ${mib(end.peak)} (limit ${mib(CHART_MEMORY_LIMIT)})\n`);
    expect(end.peak).toBeLessThan(CHART_MEMORY_LIMIT);
    expect(webhook.logs()).not.toMatch(/heap out of memory|could not read the cluster/);
  }, 600_000);
});
