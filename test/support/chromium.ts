// Headless Chromium from Debian's package, driven by playwright-core (which
// downloads no browser of its own). Installed with apt-get when missing and
// possible; without it the tests that need it skip with one loud line, and
// with CI=true they fail instead.
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
export const CHROMIUM = process.env.KGA_CHROMIUM ?? '/usr/bin/chromium';

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export async function requireChromium(): Promise<{ path: string; skip?: undefined } | { path?: undefined; skip: string }> {
  if (!executable(CHROMIUM) && process.getuid?.() === 0) {
    process.stderr.write(`[chromium] ${CHROMIUM} missing: apt-get install -y chromium\n`);
    try {
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      await execFileP('apt-get', ['install', '-y', '--no-install-recommends', 'chromium', 'fonts-dejavu-core'], { env, timeout: 600_000, maxBuffer: 32 << 20 }).catch(async () => {
        await execFileP('apt-get', ['update'], { env, timeout: 300_000, maxBuffer: 32 << 20 });
        await execFileP('apt-get', ['install', '-y', '--no-install-recommends', 'chromium', 'fonts-dejavu-core'], { env, timeout: 600_000, maxBuffer: 32 << 20 });
      });
    } catch (error) {
      process.stderr.write(`[chromium] apt-get failed: ${(error as Error).message.split('\n')[0]}\n`);
    }
  }
  if (executable(CHROMIUM)) return { path: CHROMIUM };
  const reason = `headless Chromium (${CHROMIUM}, Debian package chromium) is not installed and could not be installed`;
  if (process.env.CI === 'true') throw new Error(`${reason}: the HTML report cannot be checked in CI`);
  process.stderr.write(`\n!!! SKIPPING the rendered HTML report checks: ${reason}. Enable them with: apt-get install chromium !!!\n\n`);
  return { skip: reason };
}
