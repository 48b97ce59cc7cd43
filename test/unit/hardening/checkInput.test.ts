// `check` on input it cannot use. A file that cannot be read: the report is
// written with it as a result, then exit 2 with one line on stderr naming it.
// A document that cannot be read as an object: a result of its own (file,
// line, error), exit 1. A document that holds no Kubernetes object: skipped.
// Never a stack trace. Extends test/unit/cli/check.test.ts.
import { chmod, mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.js';

let dir: string;
const file = async (name: string, content: string | Buffer) => {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kga-check-input-'));
});

async function expectUsableError(args: string[], message: RegExp): Promise<void> {
  const { code, stdout, stderr } = await runCli(['check', ...args]);
  expect(code, stderr).toBe(2);
  expect(stderr).toMatch(message);
  expect(stderr).not.toMatch(/\n\s+at /);
  expect(stderr.trim().split('\n')).toHaveLength(1);
  // The report came first, with the file as a result of its own.
  expect(stdout).toMatch(/^UNREADABLE /m);
}

/** A result of its own on stdout (`INVALID  file:line` and the error), exit 1, nothing on stderr. */
async function expectInvalidResult(args: string[], message: RegExp): Promise<void> {
  const { code, stdout, stderr } = await runCli(['check', ...args]);
  expect(code, stderr).toBe(1);
  expect(stderr).toBe('');
  expect(stdout).toMatch(message);
  expect(stdout).not.toMatch(/\n\s+at /);
}

/** Skipped and counted; exit 0 when nothing else is wrong. */
async function expectSkipped(args: string[], skipped: number): Promise<void> {
  const { code, stdout, stderr } = await runCli(['check', ...args]);
  expect(code, stderr).toBe(0);
  expect(stdout).toContain(`; ${skipped} skipped (no Kubernetes object)`);
}

const valid = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n';

describe('check: unreadable input', () => {
  it.each<[string, () => Promise<string[]>, RegExp]>([
    ['a dangling symlink inside a folder', async () => {
      const folder = join(dir, 'dangling');
      await mkdir(folder);
      await writeFile(join(folder, 'a.yaml'), valid);
      await symlink(join(dir, 'missing.yaml'), join(folder, 'b.yaml'));
      return [folder];
    }, /dangling\/b\.yaml: cannot read: ENOENT/],
    ['a symlink loop', async () => {
      await symlink(join(dir, 'loop.yaml'), join(dir, 'loop.yaml'));
      return [join(dir, 'loop.yaml')];
    }, /loop\.yaml: cannot read: ELOOP/],
    ['a missing path after a good one', async () => [await file('good.yaml', valid), join(dir, 'nope', 'x.yaml')], /nope\/x\.yaml: cannot read: ENOENT/],
  ])('names the file: %s', async (_name, args, message) => {
    await expectUsableError(await args(), message);
  });

  it.skipIf(process.getuid?.() === 0)('names a file it has no permission to read (skipped as root, which reads anything)', async () => {
    const path = await file('secret.yaml', valid);
    await chmod(path, 0o000);
    await expectUsableError([path], /secret\.yaml: cannot read: EACCES/);
  });
});

describe('check: invalid YAML, with file and line', () => {
  it.each<[string, string, string | Buffer, RegExp]>([
    ['a bad third document (line 12 of the file)', 'multi.yaml', `${valid}---\n${valid}---\napiVersion: v1\nkind: X: Y\nmetadata: {}\n`, /^INVALID  \S*multi\.yaml:12\n {4}invalid YAML: Nested mappings/m],
    ['an unterminated quote (reported where the file ends)', 'quote.yaml', `${valid}---\napiVersion: v1\nkind: X\nmetadata:\n  name: "unterminated\n`, /^INVALID  \S*quote\.yaml:10\n {4}invalid YAML: Missing closing/m],
    ['tab indentation', 'tab.yaml', 'apiVersion: v1\nkind: X\n\tmetadata: {}\n', /^INVALID  \S*tab\.yaml:3\n {4}invalid YAML/m],
    ['a JSON file with a trailing comma and no closing brace', 'bad.json', '{"apiVersion": "v1",\n "kind": "X",\n "metadata": {"name": "x",}\n', /^INVALID  \S*bad\.json:\d+\n {4}invalid YAML/m],
  ])('%s', async (_name, name, content, message) => {
    await expectInvalidResult([await file(name, content)], message);
  });

  it('an alias bomb ("billion laughs"), refused with file and line rather than a stack trace', async () => {
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (const [prev, name] of [['a', 'b'], ['b', 'c'], ['c', 'd'], ['d', 'e'], ['e', 'f']] as const) levels.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(',')}]`);
    await expectInvalidResult([await file('bomb.yaml', `${levels.join('\n')}\napiVersion: v1\nkind: ConfigMap\n`)], /^INVALID  \S*bomb\.yaml:\d+\n {4}cannot read the document/m);
  });
});

describe('check: documents that are not Kubernetes objects are skipped', () => {
  it.each<[string, string, string | Buffer, number]>([
    ['a scalar document', 'scalar.yaml', 'hello\n', 1],
    ['a top-level sequence', 'seq.yaml', '- apiVersion: v1\n  kind: ConfigMap\n', 1],
    ['a numeric apiVersion', 'num.yaml', 'apiVersion: 1\nkind: ConfigMap\n', 1],
    ['no kind, as the second document', 'nokind.yaml', `${valid}---\napiVersion: v1\nmetadata:\n  name: x\n`, 1],
  ])('%s', async (_name, name, content, skipped) => {
    await expectSkipped([await file(name, content)], skipped);
  });

  it('a List with a scalar item is a result of its own', async () => {
    await expectInvalidResult([await file('list.yaml', 'apiVersion: v1\nkind: List\nitems:\n  - 42\n')], /^INVALID  \S*list\.yaml:1\n {4}not a Kubernetes object: a List item/m);
  });

  it('random bytes with a .yaml name: skipped or a result of its own, never a crash', async () => {
    const { code, stderr } = await runCli(['check', await file('random.yaml', Buffer.from(Array.from({ length: 256 }, (_, i) => (i * 73 + 11) % 256)))]);
    expect([0, 1]).toContain(code);
    expect(stderr).toBe('');
  });
});

describe('check: empty input', () => {
  it.each<[string, () => Promise<string>]>([
    ['an empty file', () => file('empty.yaml', '')],
    ['only document separators and comments', () => file('seps.yaml', '---\n# nothing\n---\n')],
    ['a folder with no manifest files', async () => {
      const folder = join(dir, 'no-manifests');
      await mkdir(folder);
      await writeFile(join(folder, 'notes.txt'), valid);
      return folder;
    }],
  ])('%s', async (_name, path) => {
    const { code, stdout, stderr } = await runCli(['check', await path()]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/no Kubernetes objects found/);
  });
});
