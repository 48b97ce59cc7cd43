// serve's two loggers on one destination: decision lines wait in the buffer,
// every other line goes out at once and takes the waiting decisions with it,
// in the order they were logged.
import { openSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { serveLoggers } from '../../../src/logging/serveLoggers.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function lines(file: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function until<T>(what: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 500; i++) {
    const value = await what();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('timed out');
}

describe('serveLoggers', () => {
  it('holds decision lines back and writes any other line at once, with the held ones before it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kga-logs-'));
    dirs.push(dir);
    const file = join(dir, 'out.log');
    // An open descriptor, as stdout is (a path would be opened asynchronously);
    // no periodic flush: only a non-decision line writes the buffer.
    const { logger, decisionLogger } = serveLoggers('info', { dest: openSync(file, 'a'), periodicFlushMs: 0 });
    decisionLogger.info({ uid: 'a' }, 'admission decision');
    decisionLogger.info({ uid: 'b' }, 'admission decision');
    // Give an eager destination every chance to write them.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await lines(file)).toEqual([]);

    logger.warn('something to see now');
    const written = await until(async () => {
      const got = await lines(file);
      return got.length === 3 ? got : undefined;
    });
    expect(written.map((l) => [l.msg, l.uid, l.level, l.service])).toEqual([
      ['admission decision', 'a', 'info', 'kgateway-admission'],
      ['admission decision', 'b', 'info', 'kgateway-admission'],
      ['something to see now', undefined, 'warn', 'kgateway-admission'],
    ]);
  });

  it('writes a start-up line at once through a child logger too (Fastify logs through children)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kga-logs-'));
    dirs.push(dir);
    const file = join(dir, 'out.log');
    const { logger } = serveLoggers('info', { dest: openSync(file, 'a'), periodicFlushMs: 0 });
    logger.child({ reqId: 1 }).error('request failed');
    const written = await until(async () => {
      const got = await lines(file);
      return got.length === 1 ? got : undefined;
    });
    expect(written[0]).toMatchObject({ msg: 'request failed', reqId: 1, level: 'error' });
  });
});
