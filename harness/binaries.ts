// Where etcd, kube-apiserver, helm and the CRD sources are, and building the
// binaries when they are missing. `scripts/control-plane.sh` builds them from
// Go modules pinned under test/controlplane/; CRDs are read from the Go module cache.
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';

import { REPO_ROOT } from './repoRoot.ts';

const execFileP = promisify(execFile);

export const CONTROL_PLANE_SCRIPT = path.join(REPO_ROOT, 'scripts', 'control-plane.sh');
/** The command that builds the control-plane binaries. */
export const BUILD_HINT = 'bash scripts/control-plane.sh build';

/** Where each CRD source lies in the Go module cache; every YAML file in each is installed. */
export interface CrdDirs {
  gatewayApi: string;
  kgateway: string;
  agentgateway: string;
  /** openreports.io Report and ClusterReport (serve --reports). */
  openreports: string;
}

/** Output of `bash scripts/control-plane.sh paths`. Binaries may not exist yet. */
export interface ControlPlanePaths {
  kubeApiserver: string;
  etcd: string;
  helm: string;
  versions: { kubernetes: string; etcd: string; helm: string; gatewayApi: string; kgateway: string };
  crdDirs: CrdDirs;
}

export type EnsureBinariesResult = { ok: true; paths: ControlPlanePaths } | { ok: false; reason: string };

let pathsPromise: Promise<ControlPlanePaths> | undefined;
/** Output of `scripts/control-plane.sh paths` (binary paths may not exist yet). */
export function controlPlanePaths(): Promise<ControlPlanePaths> {
  pathsPromise ??= execFileP('bash', [CONTROL_PLANE_SCRIPT, 'paths'], { cwd: REPO_ROOT, maxBuffer: 1 << 20 })
    .then(({ stdout }) => JSON.parse(stdout) as ControlPlanePaths)
    .catch((e: { stderr?: string; message: string }) => {
      pathsPromise = undefined;
      throw new Error(`scripts/control-plane.sh paths failed: ${e.stderr || e.message}`);
    });
  return pathsPromise;
}

function goAvailable(): boolean {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && fs.existsSync(path.join(dir, 'go'))) return true;
  }
  return fs.existsSync('/usr/local/go/bin/go');
}

function binariesPresent(p: ControlPlanePaths): boolean {
  return [p.kubeApiserver, p.etcd].every((b) => {
    try {
      fs.accessSync(b, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

let ensurePromise: Promise<EnsureBinariesResult> | undefined;
/**
 * Makes sure kube-apiserver and etcd are built (running the build script when
 * Go is available; the script reuses its cache and serialises concurrent builds).
 * Never throws: returns `{ ok: false, reason }` when they cannot be had.
 */
export function ensureControlPlaneBinaries({ build = true }: { build?: boolean } = {}): Promise<EnsureBinariesResult> {
  ensurePromise ??= (async (): Promise<EnsureBinariesResult> => {
    if (!goAvailable()) {
      return { ok: false, reason: 'Go is not installed (need `go` on PATH or /usr/local/go/bin/go)' };
    }
    let p: ControlPlanePaths;
    try {
      p = await controlPlanePaths();
    } catch (e) {
      return { ok: false, reason: String((e as Error).message ?? e) };
    }
    if (binariesPresent(p)) return { ok: true, paths: p };
    if (!build) return { ok: false, reason: `control-plane binaries are not built (${p.kubeApiserver})` };
    process.stderr.write(
      `[control-plane] binaries missing: running \`${BUILD_HINT}\` (first build of kube-apiserver takes 10+ minutes) ...\n`,
    );
    const start = Date.now();
    const code = await new Promise<number>((resolve) => {
      const child = spawn('bash', [CONTROL_PLANE_SCRIPT, 'build'], { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
      child.on('error', () => resolve(-1));
      child.on('exit', (c) => resolve(c ?? -1));
    });
    if (code !== 0 || !binariesPresent(p)) {
      return { ok: false, reason: `\`${BUILD_HINT}\` failed (exit ${code})` };
    }
    process.stderr.write(`[control-plane] build finished in ${Math.round((Date.now() - start) / 1000)}s\n`);
    return { ok: true, paths: p };
  })();
  return ensurePromise;
}

/**
 * For test files: `const skip = await requireControlPlane(); describe.skipIf(skip)(...)`.
 * Resolves to undefined when the control plane can run; otherwise, outside CI,
 * prints one loud line to stderr and resolves to the reason. With CI=true it throws.
 * Set KGA_CONTROLPLANE_NO_BUILD=1 to skip (instead of build) when binaries are missing.
 */
export async function requireControlPlane(): Promise<string | undefined> {
  const res = await ensureControlPlaneBinaries({ build: process.env.KGA_CONTROLPLANE_NO_BUILD !== '1' });
  if (res.ok) return undefined;
  const reason = res.reason;
  if (process.env.CI === 'true') {
    throw new Error(`control-plane tests cannot run in CI: ${reason}. Run \`${BUILD_HINT}\`.`);
  }
  process.stderr.write(
    `\n!!! SKIPPING control-plane tests: ${reason}. Enable them with: ${BUILD_HINT} (needs Go) !!!\n\n`,
  );
  return reason;
}
