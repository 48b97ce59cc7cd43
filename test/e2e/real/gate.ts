// Whether the tests that need the real machine (a container engine, root)
// run here. They are slow (see README "Try it on a real
// cluster"), so they run in CI (CI=true, as .ci/run sets it) and, elsewhere,
// when KGA_REAL_E2E=1 (`npm run test:real`). Asked for on a machine that
// cannot run them, they fail under CI=true and are skipped with one loud line
// elsewhere.
export const REAL_E2E_ENABLED = process.env.KGA_REAL_E2E === '1' || process.env.CI === 'true';

/** What the machine lacks for `what`, or undefined when it has it all. */
export function missingForRealE2e(): string | undefined {
  if (process.platform !== 'linux') return `needs Linux, this is ${process.platform}`;
  if (process.getuid?.() !== 0) return 'needs root';
  return undefined;
}

/** True when the suite must be skipped; prints why, or throws under CI. */
export function skipRealE2e(what: string): boolean {
  if (!REAL_E2E_ENABLED) {
    process.stderr.write(`[e2e] SKIPPED ${what}: set KGA_REAL_E2E=1 (npm run test:real) or CI=true to run it\n`);
    return true;
  }
  const missing = missingForRealE2e();
  if (!missing) return false;
  if (process.env.CI === 'true') throw new Error(`${what}: ${missing}, and CI=true requires it to run`);
  process.stderr.write(`[e2e] SKIPPED ${what}: ${missing} ************************************************\n`);
  return true;
}
