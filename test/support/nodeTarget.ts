// The single-node cluster of scripts/node.sh as an e2e target, shared by every
// test that needs the chart's pods:
//
//   - default export: the globalSetup of the vitest project e2e-node. It decides
//     once whether the node can run here and tells the suites (inject('e2eTarget')):
//     it runs under CI=true or KGA_REAL_E2E=1; a machine that cannot start it
//     (not root, no network namespaces) skips with one loud line, or fails
//     under CI=true. Its teardown takes the node down when a test brought it up.
//   - ensureNodeWithChart(): the first test that needs the node brings it up with
//     the chart installed (`bash scripts/node.sh up --install`), the others
//     reuse it. Lazy, not in globalSetup: vitest runs every project's globalSetup
//     before any test, and test/e2e/real/node.e2e.test.ts (project e2e-real,
//     run before this project) brings its own node up and down.
//
// Only one node can run on a machine: on a shared one, run under
// `flock /tmp/kga-node.lock ...`.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { TestProject } from 'vitest/node';
import { missingForRealE2e, REAL_E2E_ENABLED } from '../e2e/real/gate.js';
import type { ChartCluster } from './chartTarget.js';
import { kubeRequest, REPO_ROOT } from '../../harness/index.ts';
import { chartAppVersion } from './kindTarget.js';

export const NODE = {
  netns: 'kga-node',
  dir: '/var/lib/kga-node',
  name: 'kga-node',
  kubeconfigPath: join(REPO_ROOT, '.cluster', 'kubeconfig'),
  stateFile: join(REPO_ROOT, '.cluster', 'node.env'),
  /** Written when a test (not a person) brought the node up: the teardown takes it down. */
  broughtUpMarker: join(REPO_ROOT, '.cluster', 'node-by-tests'),
  release: 'kgateway-admission',
  releaseNamespace: 'kgateway-system',
  /** The private containerd's socket (CRI and ctr). */
  containerdSocket: '/var/lib/kga-node/containerd.sock',
} as const;

/** Why the node cannot run here (undefined: it can). */
export function nodeSkipReason(): string | undefined {
  if (!REAL_E2E_ENABLED) return 'set KGA_REAL_E2E=1 (npm run test:real) or CI=true to run the suites against the chart on the single-node cluster';
  return missingForRealE2e({ netns: true });
}

/** Runs scripts/node.sh with its output on stderr, prefixed; resolves with the exit code and the time it took. */
export function runNodeScript(args: string[], timeoutMs: number): Promise<{ code: number | null; output: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn('bash', [join(REPO_ROOT, 'scripts/node.sh'), ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let output = '';
    const relay = (c: Buffer) => {
      output += c;
      process.stderr.write(c);
    };
    child.stdout.on('data', relay);
    child.stderr.on('data', relay);
    child.on('close', (code) => resolve({ code, output, ms: performance.now() - t0 }));
  });
}

function nodeChart(): ChartCluster {
  return {
    kubeconfigPath: NODE.kubeconfigPath,
    release: NODE.release,
    namespace: NODE.releaseNamespace,
    // The image node.sh imported into the node's containerd; never pulled (there is no registry).
    baseValues: { image: { repository: 'kgateway-admission', tag: chartAppVersion(), pullPolicy: 'Never' } },
  };
}

/** The node is up (its API server answers) and the chart's Deployment exists. */
async function nodeWithChartAnswers(): Promise<boolean> {
  if (!existsSync(NODE.stateFile) || !existsSync(NODE.kubeconfigPath)) return false;
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(NODE.kubeconfigPath);
    if ((await kubeRequest(kc, 'GET', '/readyz', { timeoutMs: 5000 })).status !== 200) return false;
    return (await kubeRequest(kc, 'GET', `/apis/apps/v1/namespaces/${NODE.releaseNamespace}/deployments/${NODE.release}`, { timeoutMs: 5000 })).status === 200;
  } catch {
    return false;
  }
}

let upPromise: Promise<ChartCluster> | undefined;

/** The node with the chart installed: reused when it answers, else brought up (`node.sh up --install`). */
export function ensureNodeWithChart(): Promise<ChartCluster> {
  upPromise ??= (async () => {
    if (await nodeWithChartAnswers()) return nodeChart();
    process.stderr.write('[e2e] bringing the node up with the chart installed (bash scripts/node.sh up --install) ...\n');
    await writeFile(NODE.broughtUpMarker, `${process.pid}\n`).catch(() => undefined);
    const up = await runNodeScript(['up', '--install'], 2_400_000);
    if (up.code !== 0) throw new Error(`bash scripts/node.sh up --install exited ${up.code} after ${(up.ms / 1000).toFixed(0)} s:\n${up.output.slice(-4000)}`);
    // node.sh made .cluster/ afresh: mark again.
    await writeFile(NODE.broughtUpMarker, `${process.pid}\n`);
    process.stderr.write(`[e2e] node up with the chart (npm run node:up -- --install): ${(up.ms / 1000).toFixed(0)} s\n`);
    return nodeChart();
  })();
  upPromise.catch(() => (upPromise = undefined));
  return upPromise;
}

/** globalSetup of the e2e-node project. */
export default function setup(project: TestProject): () => Promise<void> {
  const skip = nodeSkipReason();
  // Under CI=true a machine that cannot run the node fails each of these files (not the whole run).
  const requiredButMissing = Boolean(skip) && process.env.CI === 'true';
  if (requiredButMissing) process.stderr.write(`\n!!! FAILING the e2e suites against the chart on the single-node cluster: ${skip}, and CI=true requires them !!!\n\n`);
  else if (skip) process.stderr.write(`\n!!! SKIPPING the e2e suites against the chart on the single-node cluster: ${skip} !!!\n\n`);
  project.provide('e2eTarget', { name: 'node', ...(skip ? { skip } : {}), requiredButMissing });
  return async () => {
    if (skip || !existsSync(NODE.broughtUpMarker) || process.env.KGA_NODE_KEEP === '1') return;
    const down = await runNodeScript(['down'], 300_000);
    process.stderr.write(`[e2e] node down (npm run node:down): ${(down.ms / 1000).toFixed(0)} s, exit ${down.code}\n`);
    await rm(NODE.broughtUpMarker, { force: true });
  };
}
