// Decision lines reach the destination in batches, never out of order with
// the other lines, and none is lost: on flush, flushSync, the interval, or the
// process's exit.
import { execFileSync } from 'node:child_process';
import { describe, expect, it, vi } from 'vitest';
import { BatchedDecisionLines, type LineDestination } from '../../../src/logging/logDestination.js';
import { REPO } from '../../support/cli.js';

function target(): LineDestination & { writes: string[]; synced: number } {
  const t = {
    writes: [] as string[],
    synced: 0,
    write: (text: string) => (t.writes.push(text), true),
    flush: (callback?: () => void) => callback?.(),
    flushSync: () => void t.synced++,
    end: () => {},
    on: () => t,
  };
  return t;
}

describe('BatchedDecisionLines', () => {
  it('hands decision lines over once they reach minLength, and before any other line', () => {
    const t = target();
    const d = new BatchedDecisionLines(t, { minLength: 20, flushIntervalMs: 60_000 });
    d.writeDecision('a123456\n');
    d.writeDecision('b123456\n');
    expect(t.writes).toEqual([]);
    d.writeDecision('c123456\n');
    expect(t.writes).toEqual(['a123456\nb123456\nc123456\n']);
    d.writeDecision('d\n');
    d.write('warning\n');
    d.writeDecision('e\n');
    d.flushSync();
    expect(t.writes).toEqual(['a123456\nb123456\nc123456\n', 'd\n', 'warning\n', 'e\n']);
    expect(t.synced).toBe(1);
    d.end();
  });

  it('hands a batch over after flushIntervalMs', () => {
    vi.useFakeTimers();
    try {
      const t = target();
      const d = new BatchedDecisionLines(t, { minLength: 4096, flushIntervalMs: 100 });
      d.writeDecision('x\n');
      vi.advanceTimersByTime(99);
      expect(t.writes).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(t.writes).toEqual(['x\n']);
      d.end();
    } finally {
      vi.useRealTimers();
    }
  });

  it('writes the last batch when the process exits, through pino.destination to stdout (the built dist/, as serve runs)', () => {
    const script = `
      import { pino } from 'pino';
      import { BatchedDecisionLines } from './dist/logging/logDestination.js';
      const d = new BatchedDecisionLines(pino.destination({ sync: false, minLength: 4096 }));
      d.writeDecision('first\\n');
      d.write('other\\n');
      d.writeDecision('last\\n');
      process.exit(0);
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO, encoding: 'utf8' });
    expect(out).toBe('first\nother\nlast\n');
  });
});
