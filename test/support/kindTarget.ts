// A kind cluster as an e2e target (project e2e-kind, `npm run test:kind`): the
// same suites as the process, against the chart installed in kind with the
// image of `npm run image:build`. The cluster is what `npm run kind:up`
// makes (scripts/kind.sh): with Docker where `docker info` answers (kind's
// published node image), else with podman and a node image built here from Go
// modules and Debian packages, on a network nothing leaves.
//
//   - default export: the globalSetup of the project. It decides once whether
//     kind can run here: it runs under CI=true or KGA_KIND_E2E=1 (npm run
//     test:kind sets it); a machine without Docker, podman (as root) or Go
//     skips with one loud line, and fails each file under CI=true (CI must
//     run the suites on kind). Its teardown deletes the cluster when a test
//     created it (`kind:down`), unless KGA_KIND_KEEP=1.
//   - ensureKindWithChart(): the cluster with the CRDs, the image and the chart
//     (`bash scripts/kind.sh up --install`); the first caller brings it up,
//     the others reuse it. One harness for every test on kind.
//   - ensureKindWithoutImage(): the same cluster without loading the image
//     (`kind.sh up --no-image`), for the install from a registry; the caller
//     clears what an earlier suite left.
//
// One kind cluster per machine at a time: on a shared one, run under
// `flock /tmp/kga-kind.lock ...`. See test/e2e/kind/README.md.
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { inject } from 'vitest';
import type { TestProject } from 'vitest/node';
import type { ChartCluster } from './chartTarget.js';
import { kubeRequest, REPO_ROOT } from '../../harness/index.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** This run of the e2e-kind project: the first file that brings kind up records it, the others reuse the cluster. */
    kindRun?: string;
  }
}

export const KIND = {
  cluster: process.env.KGA_KIND_CLUSTER ?? 'kga-e2e',
  get kubeconfigPath() {
    return join(REPO_ROOT, '.cluster', `kind-${this.cluster}.kubeconfig`);
  },
  /** Written when a test (not a person) created the cluster: the teardown deletes it. */
  get createdMarker() {
    return join(REPO_ROOT, '.cluster', `kind-${this.cluster}.created`);
  },
  /** The run (vitest's) whose first file brought the cluster up with this run's image and chart. */
  get readyMarker() {
    return join(REPO_ROOT, '.cluster', `kind-${this.cluster}.ready`);
  },
  /** The node container kind names after the cluster. */
  get nodeContainer() {
    return `${this.cluster}-control-plane`;
  },
  release: 'kgateway-admission',
  releaseNamespace: 'kgateway-system',
};

/** The chart's appVersion: the tag of the image `npm run image:build` makes. */
export function chartAppVersion(): string {
  const chart = readFileSync(join(REPO_ROOT, 'charts/kgateway-admission/Chart.yaml'), 'utf8');
  const version = /^appVersion:\s*"?([^"\n]+)"?/m.exec(chart)?.[1];
  if (!version) throw new Error('charts/kgateway-admission/Chart.yaml has no appVersion');
  return version;
}

function works(command: string, args: string[]): boolean {
  return spawnSync(command, args, { stdio: 'ignore', timeout: 20_000 }).status === 0;
}

/** The engine kind:up would use here, or why there is none. */
export function kindProvider(): { provider: 'docker' | 'podman' } | { missing: string } {
  if (works('docker', ['info'])) return { provider: 'docker' };
  if (process.platform !== 'linux') return { missing: 'docker (no engine answers `docker info`)' };
  if (!works('podman', ['--version'])) return { missing: 'docker (no engine answers `docker info`) or podman' };
  if (process.getuid?.() !== 0) return { missing: 'docker (no engine answers `docker info`), and podman is here but kind:up with podman needs root' };
  return { provider: 'podman' };
}

/** Why the kind target cannot or should not run here; undefined when it runs. */
export function kindSkipReason(): string | undefined {
  const engine = kindProvider();
  const missing = [
    ...('missing' in engine ? [engine.missing] : []),
    // kind, kubeadm, kubectl and helm are built from Go modules; the CRDs are read from its module cache.
    ...(works('go', ['version']) || works('/usr/local/go/bin/go', ['version']) ? [] : ['Go (kind, kubectl, helm and the CRDs come from Go modules)']),
  ];
  if (missing.length > 0) return `missing ${missing.join(' and ')}; see test/e2e/kind/README.md`;
  if (process.env.KGA_KIND_E2E !== '1' && process.env.CI !== 'true') return `${'provider' in engine ? engine.provider : ''} is here, but this creates a kind cluster and builds images: run \`npm run test:kind\` (KGA_KIND_E2E=1)`;
  return undefined;
}

/** Runs scripts/kind.sh with its stderr relayed; resolves with the exit code, stdout (KEY=value lines), all output and the time it took. */
export function runKindScript(args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; output: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn('bash', [join(REPO_ROOT, 'scripts/kind.sh'), ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGTERM' });
    let stdout = '';
    let output = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c;
      output += c;
    });
    child.stderr.on('data', (c: Buffer) => {
      output += c;
      process.stderr.write(c);
    });
    child.on('close', (code) => resolve({ code, stdout, output, ms: performance.now() - t0 }));
  });
}

function kindChart(): ChartCluster {
  return {
    kubeconfigPath: KIND.kubeconfigPath,
    release: KIND.release,
    namespace: KIND.releaseNamespace,
    // The image kind:up loaded into the node (`kind load image-archive`); never pulled.
    baseValues: { image: { repository: 'kgateway-admission', tag: chartAppVersion(), pullPolicy: 'Never' } },
  };
}

let upPromise: Promise<ChartCluster> | undefined;

/** An earlier file of this run brought the cluster up, and it still answers with the chart's Deployment. */
async function upInThisRun(run: string): Promise<boolean> {
  if ((await readFile(KIND.readyMarker, 'utf8').catch(() => '')).trim() !== run) return false;
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(KIND.kubeconfigPath);
    return (await kubeRequest(kc, 'GET', `/apis/apps/v1/namespaces/${KIND.releaseNamespace}/deployments/${KIND.release}`, { timeoutMs: 5000 })).status === 200;
  } catch {
    return false;
  }
}

/**
 * The kind cluster with the CRDs, the product image and the chart installed
 * (`kind.sh up --install`: creates the cluster or reuses a running one, and
 * rebuilds and reloads the image so it matches the sources). Resolves with the
 * kubeconfig and the release; the chart target then installs the values each
 * suite needs.
 */
export function ensureKindWithChart(): Promise<ChartCluster> {
  upPromise ??= (async () => {
    const run = inject('kindRun');
    if (run && (await upInThisRun(run))) return kindChart();
    process.stderr.write(`[e2e] kind cluster ${KIND.cluster} with the chart (bash scripts/kind.sh up --install) ...\n`);
    await kindUp(['--install']);
    if (run) await writeFile(KIND.readyMarker, `${run}\n`);
    return kindChart();
  })();
  upPromise.catch(() => (upPromise = undefined));
  return upPromise;
}

/** Runs `kind.sh up` with `args`; notes a cluster it created, for the teardown. */
async function kindUp(args: string[]): Promise<void> {
  const up = await runKindScript(['up', ...args], 3_600_000);
  if (up.code !== 0) throw new Error(`bash scripts/kind.sh ${['up', ...args].join(' ')} exited ${up.code} after ${(up.ms / 1000).toFixed(0)} s:\n${up.output.slice(-4000)}`);
  if (/^CREATED=yes$/m.test(up.stdout)) {
    await mkdir(join(REPO_ROOT, '.cluster'), { recursive: true });
    await writeFile(KIND.createdMarker, `${process.pid}\n`);
  }
  process.stderr.write(`[e2e] kind up (npm run kind:up -- ${args.join(' ')}): ${(up.ms / 1000).toFixed(0)} s\n`);
}

/**
 * The kind cluster without loading the product image (`kind.sh up
 * --no-image`: creates it or reuses a running one). A reused cluster may hold
 * the image and the chart of an earlier suite: the caller removes them, and
 * the next file of the run brings the chart up again (the ready marker goes).
 */
export async function ensureKindWithoutImage(): Promise<{ kubeconfigPath: string }> {
  await rm(KIND.readyMarker, { force: true });
  process.stderr.write(`[e2e] kind cluster ${KIND.cluster} without the image (bash scripts/kind.sh up --no-image) ...\n`);
  await kindUp(['--no-image']);
  return { kubeconfigPath: KIND.kubeconfigPath };
}

/** globalSetup of the e2e-kind project. */
export default function setup(project: TestProject): () => Promise<void> {
  const skip = kindSkipReason();
  // Under CI=true a machine that cannot run kind fails each of these files (not the whole run).
  const requiredButMissing = Boolean(skip) && process.env.CI === 'true';
  if (requiredButMissing) process.stderr.write(`\n!!! FAILING the e2e suites against the chart on kind: ${skip}, and CI=true requires them !!!\n\n`);
  else if (skip) process.stderr.write(`\n!!! SKIPPING the e2e suites against the chart on kind: ${skip} !!!\n\n`);
  project.provide('e2eTarget', { name: 'kind', ...(skip ? { skip } : {}), requiredButMissing });
  project.provide('kindRun', randomUUID());
  return async () => {
    await rm(KIND.readyMarker, { force: true });
    if (skip || !existsSync(KIND.createdMarker) || process.env.KGA_KIND_KEEP === '1') return;
    const down = await runKindScript(['down'], 600_000);
    process.stderr.write(`[e2e] kind down (npm run kind:down): ${(down.ms / 1000).toFixed(0)} s, exit ${down.code}\n`);
    await rm(KIND.createdMarker, { force: true });
  };
}
