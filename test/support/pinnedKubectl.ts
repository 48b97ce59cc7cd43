// kubectl at the Kubernetes version the project builds (scripts/control-plane.sh
// build-kind, ~/.cache/kgateway-admission/bin/kubectl-<version>), put first on
// the tests' PATH by vitest.config.ts: every test that runs `kubectl` then
// talks to the v1.36 API servers with a v1.36 client, not the machine's own
// (1.32 on the machine this project is built on: a skew kubectl warns about).
import { existsSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, unlinkSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

/** The k8s.io/kubernetes version the control-plane wrapper module pins. */
export function pinnedKubeVersion(repoRoot: string): string {
  const goMod = readFileSync(join(repoRoot, 'test/controlplane/kube-apiserver/go.mod'), 'utf8');
  const version = /^\s*(?:require\s+)?k8s\.io\/kubernetes\s+(v\S+)/m.exec(goMod)?.[1];
  if (!version) throw new Error('test/controlplane/kube-apiserver/go.mod pins no k8s.io/kubernetes version');
  return version;
}

/**
 * A directory holding `kubectl` → the pinned build, or undefined when it is not
 * built (then the machine's kubectl, if any, is what tests run).
 */
export function pinnedKubectlDir(repoRoot: string, toolsDir = process.env.KGA_TOOLS_DIR ?? join(homedir(), '.cache', 'kgateway-admission')): string | undefined {
  const version = pinnedKubeVersion(repoRoot);
  const binary = join(toolsDir, 'bin', `kubectl-${version}`);
  if (!existsSync(binary)) return undefined;
  const dir = join(toolsDir, `kubectl-${version}.path`);
  const link = join(dir, 'kubectl');
  mkdirSync(dir, { recursive: true });
  let current: string | undefined;
  try {
    current = readlinkSync(link);
  } catch {
    current = undefined;
  }
  if (current !== binary) {
    if (current !== undefined) unlinkSync(link);
    try {
      symlinkSync(binary, link);
    } catch (err) {
      // Another vitest process made it a moment ago.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  return dir;
}

/** PATH with the pinned kubectl's directory first (unchanged when it is not built). */
export function pathWithPinnedKubectl(repoRoot: string, path = process.env.PATH ?? ''): string {
  const dir = pinnedKubectlDir(repoRoot);
  if (!dir) return path;
  return [dir, ...path.split(delimiter).filter((p) => p && p !== dir)].join(delimiter);
}
