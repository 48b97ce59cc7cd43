import type { SkippedInput } from '../cluster/manifests.js';
import type { CheckResult } from './checkResults.js';
import { qualifiedName } from './reportFormats/report.js';

function indent(text: string, prefix: string): string {
  return text
    .split('\n')
    .map((line) => (line === '' ? line : prefix + line))
    .join('\n');
}

/** `1 object`, `2 objects`. */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** `check`'s text report: one block per result (with `quiet`, only those not plainly admitted), then one summary line. */
export function formatCheckText(results: readonly CheckResult[], skipped: readonly SkippedInput[] = [], quiet = false): string {
  const lines: string[] = [];
  let denied = 0;
  let patched = 0;
  let warned = 0;
  let invalid = 0;
  for (const result of results) {
    if (result.problem) {
      invalid++;
      const at = result.line > 0 ? `${result.file}:${result.line}` : result.file;
      lines.push(`${result.problem === 'unreadable-file' ? 'UNREADABLE' : 'INVALID '} ${at}`, indent(result.message, '    '));
      continue;
    }
    const where = ` (${result.file}:${result.line}${result.via ? `, ${result.via}` : ''})`;
    const what = `${result.kind} ${qualifiedName(result)}`;
    if (!result.allowed) {
      denied++;
      lines.push(`DENIED   ${what}${where}`, indent(result.message, '    '));
    } else if (result.warned) {
      warned++;
      lines.push(`WARNED   ${what}${where}`);
      for (const op of result.patch) lines.push(`    ${op.op} ${op.path} ${JSON.stringify(op.value)}`);
    } else if (result.patch.length > 0) {
      patched++;
      if (quiet && result.warnings.length === 0) continue;
      lines.push(`PATCHED  ${what}${where}`);
      for (const op of result.patch) lines.push(`    ${op.op} ${op.path} ${JSON.stringify(op.value)}`);
    } else {
      if (quiet && result.warnings.length === 0) continue;
      lines.push(`ALLOWED  ${what}${where}`);
    }
    for (const warning of result.warnings) lines.push(`    warning: ${warning}`);
    // Warn mode: the same grants a denial would suggest.
    if (result.warned && result.message) lines.push(indent(result.message, '    '));
  }
  const objects = results.length - invalid;
  const warnedCount = warned > 0 ? `, ${warned} warned` : '';
  const invalidCount = invalid > 0 ? `; ${invalid} invalid` : '';
  const skippedCount = skipped.length > 0 ? `; ${skipped.length} skipped (no Kubernetes object)` : '';
  lines.push(`${count(objects, 'object')}: ${objects - denied - patched - warned} allowed, ${patched} patched${warnedCount}, ${denied} denied${invalidCount}${skippedCount}`);
  return lines.join('\n');
}
