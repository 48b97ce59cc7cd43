// The count line CI reads (test/support/countReporter.ts), from a real vitest
// run of small files: a hook that throws must never turn failures into skips.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../harness/index.ts';

const root = mkdtempSync(join(tmpdir(), 'kga-count-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function countLine(files: Record<string, string>): Promise<string> {
  const dir = mkdtempSync(join(root, 'run-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const child = spawn(process.execPath, [join(REPO_ROOT, 'node_modules/vitest/vitest.mjs'), 'run', '--root', dir, `--reporter=${join(REPO_ROOT, 'test/support/countReporter.ts')}`], {
    cwd: dir,
    env: { ...process.env, CI: '', VITEST: undefined, VITEST_MODE: undefined },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.on('close', () => resolve(out.trim().split('\n').filter((l) => /^\d+ passed, \d+ failed, \d+ skipped$/.test(l)).at(-1) ?? `no count line in:\n${out}`)));
}

const imports = "import { afterAll, beforeAll, describe, it } from 'vitest';\n";

describe('the count line', () => {
  it('counts passed, failed and skipped tests as vitest ran them', async () => {
    expect(await countLine({ 'a.test.ts': `${imports}it('passes', () => {}); it('fails', () => { throw new Error('no'); }); it.skip('skipped on purpose', () => {});` })).toBe('1 passed, 1 failed, 1 skipped');
  }, 60_000);

  it('counts the tests a throwing beforeAll kept from running as failed, and a throwing afterAll as one failure', async () => {
    const file = `${imports}
describe('its cluster does not come up', () => { beforeAll(() => { throw new Error('no cluster'); }); it('one', () => {}); describe('nested', () => { it('two', () => {}); }); });
describe('fine', () => { it('passes', () => {}); it.skip('skipped on purpose', () => {}); });
describe('its cleanup throws', () => { afterAll(() => { throw new Error('cleanup'); }); it('passes too', () => {}); });`;
    expect(await countLine({ 'a.test.ts': file })).toBe('2 passed, 3 failed, 1 skipped');
  }, 60_000);

  it('counts a file that cannot load as a failure', async () => {
    expect(await countLine({ 'a.test.ts': `${imports}it('passes', () => {});`, 'b.test.ts': `${imports}throw new Error('broken import');` })).toBe('1 passed, 1 failed, 0 skipped');
  }, 60_000);
});
