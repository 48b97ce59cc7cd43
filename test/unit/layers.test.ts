// The layer rules of .dependency-cruiser.cjs (docs/architecture.md), run by
// `npm run lint:layers` in CI: each rule is shown to fire on a small tree that
// breaks it, and to stay quiet on imports the layers allow.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const REPO = join(import.meta.dirname, '../..');
const DEPCRUISE = join(REPO, 'node_modules/.bin/depcruise');

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
}

function cruise(cwd: string, args: string[]): { violations: Violation[] } {
  const run = spawnSync(DEPCRUISE, [...args, '--output-type', 'json'], { cwd, encoding: 'utf8' });
  if (run.error) throw run.error;
  const output = JSON.parse(run.stdout) as { summary: { violations: Violation[] } };
  return { violations: output.summary.violations };
}

const trees: string[] = [];
afterEach(() => {
  for (const dir of trees.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A throwaway project with the repository's layer config and the given src/ files. */
function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'kga-layers-'));
  trees.push(dir);
  copyFileSync(join(REPO, '.dependency-cruiser.cjs'), join(dir, '.dependency-cruiser.cjs'));
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', strict: true } }));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

function rulesBroken(dir: string): string[] {
  const { violations } = cruise(dir, ['src', '--config', '.dependency-cruiser.cjs']);
  return violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`).sort();
}

describe('layer rules', () => {
  it('src/ and harness/ as they are break none', () => {
    expect(cruise(REPO, ['src', 'harness', '--config', '.dependency-cruiser.cjs']).violations).toEqual([]);
  });

  it('rules/ may not do I/O or log: node:fs, fs/promises and pino are violations, node:crypto and node:util are not', () => {
    const dir = tree({
      'src/rules/impure.ts': [
        "import { readFileSync } from 'node:fs';",
        "import { readFile } from 'fs/promises';",
        "import pino from 'pino';",
        "import { hash } from 'node:crypto';",
        "import { isDeepStrictEqual } from 'node:util';",
        'export const used = [readFileSync, readFile, pino, hash, isDeepStrictEqual];',
      ].join('\n'),
    });
    expect(rulesBroken(dir)).toEqual([
      'rules-no-io-libraries: src/rules/impure.ts -> pino',
      'rules-no-io: src/rules/impure.ts -> fs',
      'rules-no-io: src/rules/impure.ts -> fs/promises',
    ]);
  });

  it('imports that run up the layers are violations; down and sideways as allowed are not', () => {
    const dir = tree({
      'src/rules/vocabulary.ts': 'export const GROUP = "gateway.networking.k8s.io";\n',
      'src/rules/up.ts': "import { serve } from '../server/app.js';\nexport const up = serve;\n",
      'src/admission/engine.ts': "import { GROUP } from '../rules/vocabulary.js';\nexport const engine = GROUP;\n",
      'src/audit/findings.ts': "import { GROUP } from '../rules/vocabulary.js';\nimport { engine } from '../admission/engine.js';\nexport const findings = [GROUP, engine];\n",
      'src/server/app.ts': [
        "import { engine } from '../admission/engine.js';",
        "import { source } from '../cluster/source.js';",
        "import { loaded } from '../config/config.js';",
        "import { bundle } from '../certificates/certificates.js';",
        'export const serve = [engine, source, loaded, bundle];',
      ].join('\n'),
      'src/cluster/source.ts': [
        "import { GROUP } from '../rules/vocabulary.js';",
        "import { engine } from '../admission/engine.js';",
        'export const source = [GROUP, engine];',
      ].join('\n'),
      'src/cluster/leak.ts': "import { bundle } from '../certificates/certificates.js';\nexport const leak = bundle;\n",
      'src/cluster/watches.ts': "import { client } from '../kube/client.js';\nexport const watches = client;\n",
      'src/kube/client.ts': "import { GROUP } from '../rules/vocabulary.js';\nexport const client = GROUP;\n",
      'src/kube/viewed.ts': "import { source } from '../cluster/source.js';\nexport const viewed = source;\n",
      'src/certificates/certificates.ts': "import { client } from '../kube/client.js';\nimport { source } from '../cluster/source.js';\nexport const bundle = [client, source];\n",
      'src/config/config.ts': "import { GROUP } from '../rules/vocabulary.js';\nimport { source } from '../cluster/source.js';\nexport const loaded = [GROUP, source];\n",
      'src/reports/writer.ts': [
        "import { client } from '../kube/client.js';",
        "import { source } from '../cluster/source.js';",
        "import { findings } from '../audit/findings.js';",
        "import { serve } from '../server/app.js';",
        'export const writer = [client, source, findings, serve];',
      ].join('\n'),
      'src/cli/main.ts': [
        "import { serve } from '../server/app.js';",
        "import { source } from '../cluster/source.js';",
        "import { loaded } from '../config/config.js';",
        "import { writer } from '../reports/writer.js';",
        'export const main = [serve, source, loaded, writer];',
      ].join('\n'),
    });
    const broken = rulesBroken(dir);
    expect(broken).toEqual(
      expect.arrayContaining([
        'rules-import-only-rules: src/rules/up.ts -> src/server/app.ts',
        'server-takes-engine-and-sources: src/server/app.ts -> src/cluster/source.ts',
        'server-takes-engine-and-sources: src/server/app.ts -> src/config/config.ts',
        'adapters-not-up: src/cluster/source.ts -> src/admission/engine.ts',
        'adapters-not-up: src/reports/writer.ts -> src/server/app.ts',
        'config-imports-no-adapter: src/config/config.ts -> src/cluster/source.ts',
        'audit-imports-only-rules: src/audit/findings.ts -> src/admission/engine.ts',
        'cluster-adapter-imports: src/cluster/leak.ts -> src/certificates/certificates.ts',
        'kube-imports-only-rules: src/kube/viewed.ts -> src/cluster/source.ts',
        'certificates-imports: src/certificates/certificates.ts -> src/cluster/source.ts',
        'reports-adapter-imports: src/reports/writer.ts -> src/cluster/source.ts',
      ]),
    );
    // Allowed: down the layers, adapters on rules/, server/ on certificates/ (the source it is given), cluster/, certificates/ and reports/ on kube/, reports/ on audit/, cli/ on anything.
    for (const allowed of [
      'src/admission/engine.ts -> src/rules/vocabulary.ts',
      'src/audit/findings.ts -> src/rules/vocabulary.ts',
      'src/reports/writer.ts -> src/audit/findings.ts',
      'src/cluster/source.ts -> src/rules/vocabulary.ts',
      'src/server/app.ts -> src/certificates/certificates.ts',
      'src/kube/client.ts -> src/rules/vocabulary.ts',
      'src/cluster/watches.ts -> src/kube/client.ts',
      'src/certificates/certificates.ts -> src/kube/client.ts',
      'src/reports/writer.ts -> src/kube/client.ts',
      'src/cli/main.ts -> src/server/app.ts',
      'src/cli/main.ts -> src/config/config.ts',
    ]) {
      expect(broken.filter((v) => v.endsWith(allowed))).toEqual([]);
    }
  });

  it('harness/ and src/ stay apart: neither imports the other, and harness/ imports no test, script or bench', () => {
    const dir = tree({
      'src/cli/main.ts': "import { startControlPlane } from '../../harness/controlPlane.ts';\nexport const main = startControlPlane;\n",
      'src/rules/vocabulary.ts': 'export const GROUP = "gateway.networking.k8s.io";\n',
      'harness/controlPlane.ts': [
        "import { GROUP } from '../src/rules/vocabulary.ts';",
        "import { helper } from '../test/support/helper.ts';",
        "import { ports } from './ports.ts';",
        'export const startControlPlane = [GROUP, helper, ports];',
      ].join('\n'),
      'harness/ports.ts': 'export const ports = [1];\n',
      'test/support/helper.ts': 'export const helper = 1;\n',
    });
    const { violations } = cruise(dir, ['src', 'harness', '--config', '.dependency-cruiser.cjs']);
    expect(violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`).sort()).toEqual([
      'harness-stands-alone: harness/controlPlane.ts -> src/rules/vocabulary.ts',
      'harness-stands-alone: harness/controlPlane.ts -> test/support/helper.ts',
      'src-not-harness: src/cli/main.ts -> harness/controlPlane.ts',
    ]);
  });

  it('a cycle is a violation even inside one layer', () => {
    const dir = tree({
      'src/rules/a.ts': "import { b } from './b.js';\nexport const a = () => b;\n",
      'src/rules/b.ts': "import { a } from './a.js';\nexport const b = () => a;\n",
    });
    expect(rulesBroken(dir)).toEqual(['no-circular: src/rules/a.ts -> src/rules/b.ts']);
  });

  // Issue 22: server/ was 7 files deep for 12 files (fastPath.ts importing
  // body parsing from admissionRoutes.ts); import type counts, as in the
  // layer rules (tsPreCompilationDeps).
  it('no import chain inside src/server/ is longer than 5 files', () => {
    const run = spawnSync(DEPCRUISE, ['src/server', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], { cwd: REPO, encoding: 'utf8', maxBuffer: 1 << 26 });
    const modules = (JSON.parse(run.stdout) as { modules: { source: string; dependencies: { resolved: string }[] }[] }).modules;
    const inServer = (path: string) => path.startsWith('src/server/');
    const imports = new Map(modules.filter((m) => inServer(m.source)).map((m) => [m.source, m.dependencies.map((d) => d.resolved).filter(inServer)]));
    const longest = new Map<string, string[]>();
    const chainFrom = (file: string): string[] => {
      const known = longest.get(file);
      if (known) return known;
      let chain = [file];
      for (const next of imports.get(file) ?? []) {
        const through = [file, ...chainFrom(next)];
        if (through.length > chain.length) chain = through;
      }
      longest.set(file, chain);
      return chain;
    };
    const chains = [...imports.keys()].map(chainFrom).sort((a, b) => b.length - a.length);
    expect(imports.size).toBeGreaterThan(5);
    expect(chains[0]!.length, chains[0]!.join(' -> ')).toBeLessThanOrEqual(5);
  });
});
