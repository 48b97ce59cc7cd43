// promtool, built from the Prometheus Go module by scripts/promtool.sh into
// the tools folder (like the control plane). Without it the tests that need it
// skip with one loud line; with CI=true they fail instead.
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../harness/index.ts';

const execFileP = promisify(execFile);
const SCRIPT = join(REPO_ROOT, 'scripts', 'promtool.sh');

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The promtool binary, built when missing; `skip` says why not (outside CI only). */
export async function requirePromtool(): Promise<{ path: string; skip?: undefined } | { path?: undefined; skip: string }> {
  const path = (await execFileP('bash', [SCRIPT, 'path'])).stdout.trim();
  if (!executable(path)) {
    process.stderr.write(`[promtool] ${path} missing: running bash scripts/promtool.sh build\n`);
    const code = await new Promise<number>((resolve) => {
      const child = spawn('bash', [SCRIPT, 'build'], { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
      child.on('error', () => resolve(-1));
      child.on('exit', (c) => resolve(c ?? -1));
    });
    if (code !== 0 || !executable(path)) {
      const reason = `promtool could not be built (bash scripts/promtool.sh build exited ${code}; it needs Go and the Go module proxy)`;
      if (process.env.CI === 'true') throw new Error(`${reason}: the alert rules cannot be checked in CI`);
      process.stderr.write(`\n!!! SKIPPING promtool checks of the alert rules: ${reason} !!!\n\n`);
      return { skip: reason };
    }
  }
  return { path };
}

export async function runPromtool(promtool: string, args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await execFileP(promtool, args, { timeout: 120_000, maxBuffer: 8 << 20 });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string; message: string };
    return { code: typeof e.code === 'number' ? e.code : 1, output: (e.stdout ?? '') + (e.stderr ?? e.message) };
  }
}
