import { execFileSync, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Makes a command from a Debian package available, installing the package
 * with apt-get when it is missing (CI runs as root on Debian). Resolves to
 * undefined when the command is there; otherwise, with CI=true it throws, and
 * elsewhere prints one loud line and resolves to the reason to skip.
 */
export function requireDebianTool(command: string, debianPackage: string): string | undefined {
  if (onPath(command)) return undefined;
  let reason: string;
  try {
    if (!onPath('apt-get')) throw new Error('no apt-get on this machine');
    // flock: test files (unit and e2e run side by side) install one at a time, not racing for apt's lock.
    const install = `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${debianPackage}`;
    execFileSync('flock', [join(tmpdir(), 'kgateway-admission-apt.lock'), 'sh', '-c', install], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 600_000 });
    if (onPath(command)) return undefined;
    reason = `${command} is still missing after installing the Debian package ${debianPackage}`;
  } catch (error) {
    reason = `the Debian package ${debianPackage} could not be installed: ${String((error as { stderr?: Buffer }).stderr ?? (error as Error).message).trim().split('\n').at(-1)}`;
  }
  if (process.env.CI === 'true') throw new Error(`${command} is needed in CI: ${reason}`);
  process.stderr.write(`\n!!! SKIPPING tests that need ${command}: ${reason} !!!\n\n`);
  return reason;
}
