import { integerOption } from './usage.js';

/** `--warn-exit-code N`, as Kyverno's: the exit status when there are warnings and no error. */
export const WARN_EXIT_OPTIONS = { 'warn-exit-code': { type: 'string' } } as const;

export const WARN_EXIT_USAGE = `--warn-exit-code N: exit N (1-255) when there are warnings but no error (default 0).`;

export function warnExitCodeOption(value: string | undefined): number | undefined {
  return integerOption('warn-exit-code', value, 1, 255);
}

/** 1 on any error; `warnExitCode` (else 0) on warnings alone; 0 when clean. */
export function findingsExitStatus(counts: { error: number; warning: number }, warnExitCode: number | undefined): number {
  if (counts.error > 0) return 1;
  if (counts.warning > 0 && warnExitCode !== undefined) return warnExitCode;
  return 0;
}
