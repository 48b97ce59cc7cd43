// The tests' kubectl is the one built at the control plane's version, put
// first on PATH by vitest.config.ts (test/support/pinnedKubectl.ts).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../harness/index.ts';
import { pathWithPinnedKubectl, pinnedKubectlDir, pinnedKubeVersion } from '../../support/pinnedKubectl.ts';

const dirs: string[] = [];
const tools = () => {
  const d = mkdtempSync(join(tmpdir(), 'kga-tools-'));
  dirs.push(d);
  return d;
};
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('the tests run the kubectl built at the control plane version', () => {
  it('reads the version the kube-apiserver wrapper module pins', () => {
    expect(pinnedKubeVersion(REPO_ROOT)).toMatch(/^v1\.\d+\.\d+$/);
  });

  it('puts a directory holding kubectl -> the built binary first on PATH, once', () => {
    const d = tools();
    const binary = join(d, 'bin', `kubectl-${pinnedKubeVersion(REPO_ROOT)}`);
    mkdirSync(join(d, 'bin'));
    writeFileSync(binary, '#!/bin/sh\n', { mode: 0o755 });
    const dir = pinnedKubectlDir(REPO_ROOT, d)!;
    expect(readlinkSync(join(dir, 'kubectl'))).toBe(binary);
    // Again (another vitest process): the same link, no error.
    expect(pinnedKubectlDir(REPO_ROOT, d)).toBe(dir);
    const before = process.env.KGA_TOOLS_DIR;
    process.env.KGA_TOOLS_DIR = d;
    try {
      const path = pathWithPinnedKubectl(REPO_ROOT, ['/usr/bin', dir, '/bin'].join(delimiter));
      expect(path.split(delimiter)).toEqual([dir, '/usr/bin', '/bin']);
    } finally {
      if (before === undefined) delete process.env.KGA_TOOLS_DIR;
      else process.env.KGA_TOOLS_DIR = before;
    }
  });

  it('leaves PATH alone when kubectl is not built', () => {
    const d = tools();
    expect(pinnedKubectlDir(REPO_ROOT, d)).toBeUndefined();
    expect(existsSync(join(d, `kubectl-${pinnedKubeVersion(REPO_ROOT)}.path`))).toBe(false);
  });

  // Where it is built (CI builds it with kind's binaries): this test process has it first on PATH.
  const built = pinnedKubectlDir(REPO_ROOT) !== undefined;
  it.runIf(built || process.env.CI === 'true')('`kubectl` on this test process\'s PATH is that version', () => {
    const res = spawnSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8', timeout: 30_000 });
    expect(res.status, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout).clientVersion.gitVersion).toBe(pinnedKubeVersion(REPO_ROOT));
  });
});
