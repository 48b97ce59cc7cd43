// A kind cluster as an e2e target (project e2e-kind, `npm run test:kind`): the
// same suites as the process and the node, against the chart installed in kind
// with the image of `npm run image:build`, loaded from the same archive the
// node imports (`kind load image-archive`). Needs Docker (an engine that
// answers `docker info`), kind on PATH and KGA_KIND_E2E=1 (which npm run
// test:kind sets); without them it skips with one loud line (kind is never
// required, not even in CI). See test/e2e/kind/README.md.
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { TestProject } from 'vitest/node';
import type { ChartCluster } from './chartTarget.js';
import { controlPlanePaths, installCrds, REPO_ROOT } from '../../harness/index.ts';
import { chartAppVersion } from './nodeTarget.js';

/** The cluster's name (its node container is `<name>-control-plane`). */
export const KIND_CLUSTER = process.env.KGA_KIND_CLUSTER ?? 'kga-e2e';
const CLUSTER = KIND_CLUSTER;
const KUBECONFIG = join(REPO_ROOT, '.cluster', `kind-${CLUSTER}.kubeconfig`);
// As on the node (test/support/nodeTarget.ts), so the suites name one release.
const RELEASE = 'kgateway-admission';
const RELEASE_NAMESPACE = 'kgateway-system';

function works(command: string, args: string[]): boolean {
  return spawnSync(command, args, { stdio: 'ignore', timeout: 20_000 }).status === 0;
}

/** Why the kind target cannot or should not run here; undefined when it runs. */
export function kindSkipReason(): string | undefined {
  const missing = [
    ...(works('docker', ['info']) ? [] : ['docker (no engine answers `docker info`)']),
    ...(works('kind', ['version']) ? [] : ['kind (not on PATH)']),
  ];
  if (missing.length > 0) return `missing ${missing.join(' and ')}; see test/e2e/kind/README.md`;
  // Go locates the CRDs in its module cache and builds helm, as for the control-plane e2e.
  if (!works('go', ['version']) && !works('/usr/local/go/bin/go', ['version'])) return 'missing Go (for the CRDs and helm); see test/e2e/kind/README.md';
  if (process.env.KGA_KIND_E2E !== '1') return 'docker and kind are here, but it creates a cluster and builds the image: run `npm run test:kind` (KGA_KIND_E2E=1)';
  return undefined;
}

/** Runs a command with its output on stderr (these steps take minutes); rejects on a non-zero exit. */
function sh(command: string, args: string[], options: { capture?: boolean } = {}): Promise<string> {
  process.stderr.write(`[kind] $ ${command} ${args.join(' ')}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: REPO_ROOT, stdio: ['ignore', options.capture ? 'pipe' : 'inherit', 'inherit'] });
    let out = '';
    child.stdout?.on('data', (c) => (out += c));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} ${args.join(' ')} exited ${code}`))));
  });
}

let upPromise: Promise<ChartCluster> | undefined;

/** The kind cluster with the CRDs and the image loaded (created when missing); the chart is installed by the first suite. */
export function ensureKindWithChart(): Promise<ChartCluster> {
  upPromise ??= (async () => {
    const clusters = (await sh('kind', ['get', 'clusters'], { capture: true })).split('\n');
    if (!clusters.includes(CLUSTER)) {
      await sh('kind', ['create', 'cluster', '--name', CLUSTER, '--wait', '180s', ...(process.env.KGA_KIND_NODE_IMAGE ? ['--image', process.env.KGA_KIND_NODE_IMAGE] : [])]);
      await mkdir(join(REPO_ROOT, '.cluster'), { recursive: true });
      await writeFile(join(REPO_ROOT, '.cluster', `kind-${CLUSTER}.created`), '');
    }
    await mkdir(join(REPO_ROOT, '.cluster'), { recursive: true });
    await writeFile(KUBECONFIG, await sh('kind', ['get', 'kubeconfig', '--name', CLUSTER], { capture: true }), { mode: 0o600 });
    const kc = new KubeConfig();
    kc.loadFromFile(KUBECONFIG);
    await installCrds(kc, (await controlPlanePaths()).crdDirs);
    // The same archive the node imports, under its full name docker.io/library/kgateway-admission:<appVersion>.
    const built = await sh('bash', ['scripts/image-build.sh'], { capture: true });
    const archive = /^archive: (.+)$/m.exec(built)?.[1];
    if (!archive) throw new Error(`npm run image:build printed no archive:\n${built.slice(-2000)}`);
    await sh('kind', ['load', 'image-archive', archive, '--name', CLUSTER]);
    return {
      kubeconfigPath: KUBECONFIG,
      release: RELEASE,
      namespace: RELEASE_NAMESPACE,
      baseValues: { image: { repository: 'kgateway-admission', tag: chartAppVersion(), pullPolicy: 'Never' } },
    };
  })();
  upPromise.catch(() => (upPromise = undefined));
  return upPromise;
}

/** globalSetup of the e2e-kind project. */
export default function setup(project: TestProject): () => Promise<void> {
  const skip = kindSkipReason();
  if (skip) process.stderr.write(`\n!!! SKIPPING the e2e suites against the chart on kind: ${skip} !!!\n\n`);
  project.provide('e2eTarget', { name: 'kind', ...(skip ? { skip } : {}) });
  return async () => {
    // The cluster is created in a test worker; the worker leaves a marker for this teardown.
    const { existsSync, rmSync } = await import('node:fs');
    const marker = join(REPO_ROOT, '.cluster', `kind-${CLUSTER}.created`);
    if (skip || !existsSync(marker) || process.env.KGA_KIND_KEEP === '1') return;
    await sh('kind', ['delete', 'cluster', '--name', CLUSTER]).catch(() => undefined);
    rmSync(marker, { force: true });
  };
}
