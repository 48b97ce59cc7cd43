// The chart's pods on a real node: `npm run node:up -- --install` brings up a
// single-node Kubernetes (kubelet, containerd, kube-proxy, ... in a network
// namespace with no default route), installs the chart with the image of
// `npm run image:build`, and the API server calls the webhooks through the
// chart's Service; `npm run node:down` leaves no namespace, mount or iptables
// rule behind.
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gateway, httpListenerPolicy } from '../../support/builders.js';
import { kubeRequest, REPO_ROOT } from '../../../harness/index.ts';
import { create, ensureNamespaces, PATHS, pollUntil } from '../support.js';
import { skipRealE2e } from './gate.js';
import { mutatingWebhookAnswered } from '../../support/gatewayMutation.js';

const execFileP = promisify(execFile);
const skip = skipRealE2e('the single-node cluster (npm run node:up)', { netns: true });

const NETNS = 'kga-node';
const NODE_DIR = '/var/lib/kga-node';

function nodeScript(args: string[], timeoutMs: number): Promise<{ code: number | null; output: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn('bash', ['scripts/node.sh', ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    child.on('close', (code) => resolve({ code, output, ms: performance.now() - t0 }));
  });
}

/** What a node leaves on the host: its namespace, mounts under its dir, iptables rules. */
async function hostTraces(): Promise<{ netns: boolean; mounts: string[]; iptables: string[] }> {
  const { stdout: list } = await execFileP('ip', ['netns', 'list']);
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith(`${NODE_DIR}/`) || m === `/run/netns/${NETNS}`);
  const { stdout: rules } = await execFileP('iptables-save').catch(() => ({ stdout: '' }));
  return { netns: list.split('\n').some((l) => l.split(' ')[0] === NETNS), mounts, iptables: rules.split('\n').filter((l) => /KUBE-|CNI-/.test(l)) };
}

describe.skipIf(skip)('the chart on a real single-node cluster', () => {
  let up: { code: number | null; output: string; ms: number };
  let kc: KubeConfig;
  let iptablesBefore: string[] = [];

  beforeAll(async () => {
    iptablesBefore = (await hostTraces()).iptables;
    up = await nodeScript(['up', '--install'], 2_400_000);
    process.stderr.write(`[e2e] npm run node:up -- --install: ${(up.ms / 1000).toFixed(0)} s\n`);
    if (up.code === 0) {
      kc = new KubeConfig();
      kc.loadFromFile(join(REPO_ROOT, '.cluster', 'kubeconfig'));
    }
  }, 2_400_000);

  afterAll(async () => {
    // The last test takes it down; this only covers a failure before it.
    if ((await hostTraces()).netns) await nodeScript(['down'], 300_000);
  }, 300_000);

  it('comes up with the node Ready', async () => {
    expect(up.code, up.output.slice(-6000)).toBe(0);
    const node = await kubeRequest(kc, 'GET', '/api/v1/nodes/kga-node');
    const ready = (node.body.status.conditions as { type: string; status: string }[]).find((c) => c.type === 'Ready');
    expect(ready?.status).toBe('True');
  });

  it("runs the chart's pods from the built image", async () => {
    const chart = await readFile(join(REPO_ROOT, 'charts/kgateway-admission/Chart.yaml'), 'utf8');
    const appVersion = /^appVersion:\s*"?([^"\n]+)"?/m.exec(chart)?.[1];
    const pods = await kubeRequest(kc, 'GET', '/api/v1/namespaces/kgateway-system/pods');
    const items = pods.body.items as { spec: { containers: { image: string }[] }; status: { phase: string; containerStatuses?: { ready: boolean }[] } }[];
    expect(items.length).toBeGreaterThanOrEqual(2);
    for (const pod of items) {
      expect(pod.spec.containers[0]?.image).toBe(`kgateway-admission:${appVersion}`);
      expect(pod.status.phase).toBe('Running');
      expect(pod.status.containerStatuses?.every((c) => c.ready)).toBe(true);
    }
  });

  it('a Gateway created through the API server is answered by the mutating webhook (the parametersRef, or the warning that its namespace has no parameters object)', async () => {
    await ensureNamespaces(kc, 'kgateway', 'monitoring');
    // The API server may take a moment to see the caBundle the pods patched in.
    const { ms } = await pollUntil('a dry-run Gateway to come back mutated', async () => {
      const res = await create(kc, PATHS.gateways('kgateway'), gateway({ name: 'real-node' }), { dryRun: true });
      return mutatingWebhookAnswered(res) ? res : undefined;
    }, 60_000, 250);
    process.stderr.write(`[e2e] real node: the webhook answered through the API server ${ms.toFixed(0)} ms after helm --wait\n`);
    const res = await create(kc, PATHS.gateways('kgateway'), gateway({ name: 'real-node' }));
    expect(res.status, res.text).toBe(201);
    expect(mutatingWebhookAnswered(res), res.text).toBe(true);
  });

  it('an HTTPListenerPolicy with an ungranted cross-namespace backendRef is denied', async () => {
    const res = await create(kc, PATHS.httpListenerPolicies('kgateway'), httpListenerPolicy({ name: 'real-node-ungranted' }));
    expect(res.status, res.text).toBe(403);
    expect(res.body.message).toContain('denied the request');
    expect(res.body.message).toContain('Service monitoring/otel-collector-collector');
  });

  it('node:up over a killed run (its processes ended, its namespace and mounts left) clears them and comes up', async () => {
    const { stdout } = await execFileP('ip', ['netns', 'pids', NETNS]);
    const pids = stdout.split('\n').filter(Boolean).map(Number);
    expect(pids.length).toBeGreaterThan(5);
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    const left = await hostTraces();
    expect(left.netns).toBe(true);
    expect(left.mounts.length).toBeGreaterThan(0);
    const again = await nodeScript(['up'], 600_000);
    process.stderr.write(`[e2e] npm run node:up over a killed run: ${(again.ms / 1000).toFixed(0)} s\n`);
    expect(again.code, again.output.slice(-6000)).toBe(0);
    expect(again.output).toMatch(/unmounted \d+ mounts/);
    // A new run has a new CA.
    const fresh = new KubeConfig();
    fresh.loadFromFile(join(REPO_ROOT, '.cluster', 'kubeconfig'));
    const node = await kubeRequest(fresh, 'GET', '/api/v1/nodes/kga-node');
    expect(node.status).toBe(200);
  });

  it('node:down leaves no network namespace, mount or iptables rule behind, and is idempotent', async () => {
    const down = await nodeScript(['down'], 300_000);
    process.stderr.write(`[e2e] npm run node:down: ${(down.ms / 1000).toFixed(0)} s\n`);
    expect(down.code, down.output).toBe(0);
    const traces = await hostTraces();
    expect(traces.netns).toBe(false);
    expect(traces.mounts).toEqual([]);
    expect(traces.iptables).toEqual(iptablesBefore);
    expect(existsSync(NODE_DIR)).toBe(false);
    const cniResults = existsSync('/var/lib/cni/results') ? readdirSync('/var/lib/cni/results') : [];
    expect(cniResults.filter((f) => f.startsWith('kga-pods-'))).toEqual([]);
    const again = await nodeScript(['down'], 120_000);
    expect(again.code, again.output).toBe(0);
  });
});
