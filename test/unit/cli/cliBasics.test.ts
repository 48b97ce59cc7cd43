import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { nodeVersionProblem } from '../../../src/cli/nodeVersion.js';
import { REPO, runCli } from '../../support/cli.js';

const VERSION: string = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kga-cli-'));
});

describe('--version and --help', () => {
  it.each(['--version', '-v', 'version'])('%s prints the package version', async (flag) => {
    const { code, stdout } = await runCli([flag]);
    expect(code).toBe(0);
    expect(stdout).toBe(`${VERSION}\n`);
  });

  it.each(['serve', 'check', 'audit', 'certs'])('%s --help shows its usage with an example', async (command) => {
    const { code, stdout } = await runCli([command, '--help']);
    expect(code).toBe(0);
    expect(stdout).toContain(`Usage: kgateway-admission ${command}`);
    expect(stdout).toMatch(new RegExp(`Examples?:\\n  kgateway-admission ${command}\\b`));
  });
});

describe('the Node version guard', () => {
  it.each([
    ['20.20.2', 'kgateway-admission needs Node 24 or newer (this is v20.20.2)'],
    ['v22.1.0', 'kgateway-admission needs Node 24 or newer (this is v22.1.0)'],
    ['24.0.0', undefined],
    ['26.1.0', undefined],
  ])('Node %s -> %s', (version, problem) => {
    expect(nodeVersionProblem(version)).toBe(problem);
  });

  // The machine's own node, when it is older than 24 (Debian's 20 on the
  // build machines): the real crash this guards against came from undici
  // while loading, before any of our code ran.
  const olderNode = ['/usr/bin/node', '/usr/local/bin/node'].find((path) => {
    if (!existsSync(path)) return false;
    const major = Number(/^v(\d+)/.exec(String(spawnSyncVersion(path)))?.[1]);
    return Number.isInteger(major) && major < 24;
  });
  if (!olderNode) console.warn('SKIPPED: no Node older than 24 on this machine to run the CLI with');
  it.skipIf(!olderNode)('an older Node exits 2 with one line that says why', async () => {
    const { code, stdout, stderr } = await run(olderNode!, [join(REPO, 'dist/cli/main.js'), '--help']);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^kgateway-admission needs Node 24 or newer \(this is v\d+\.\d+\.\d+\)\n$/);
    expect(code).toBe(2);
  });
});

describe('cluster-scoped objects', () => {
  it('print and report with no namespace (built-in kinds, GatewayClass, and kinds a CRD in the input declares)', async () => {
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'widgets.example.com' },
      spec: { group: 'example.com', scope: 'Cluster', names: { kind: 'Widget', plural: 'widgets' }, versions: [] },
    };
    const objects = [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kgateway' } },
      { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'agentgateway' }, spec: { controllerName: 'kgateway.dev/agentgateway' } },
      crd,
      { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'plain' } },
    ];
    const path = join(dir, 'scoped.yaml');
    await writeFile(path, objects.map((o) => stringify(o)).join('---\n'));
    const text = await runCli(['check', path]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^ALLOWED  Namespace kgateway \(/m);
    expect(text.stdout).toMatch(/^ALLOWED  GatewayClass agentgateway \(/m);
    expect(text.stdout).toMatch(/^ALLOWED  CustomResourceDefinition widgets\.example\.com \(/m);
    expect(text.stdout).toMatch(/^ALLOWED  Widget w \(/m);
    expect(text.stdout).toMatch(/^ALLOWED  ConfigMap default\/plain \(/m);
    const json = await runCli(['check', '--output', 'json', path]);
    const namespaces = JSON.parse(json.stdout).results.map((r: { namespace: string }) => r.namespace);
    expect(namespaces).toEqual(['', '', '', '', 'default']);
  });
});

function spawnSyncVersion(node: string): string {
  try {
    return execFileSync(node, ['--version'], { encoding: 'utf8' });
  } catch {
    return '';
  }
}

function run(command: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
