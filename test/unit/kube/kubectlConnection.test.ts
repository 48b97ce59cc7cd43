// audit and check find a cluster as kubectl does (issue 24, 3): --kubeconfig,
// else $KUBECONFIG (several files), else ~/.kube/config, else in-cluster;
// --context picks another context.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { connectAsKubectl } from '../../../src/kube/kubectlConnection.js';
import { runCli } from '../../support/cli.js';

const kubeconfig = (contexts: [name: string, server: string][], current: string) =>
  [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    ...contexts.map(([name, server]) => `- name: ${name}\n  cluster: {server: "${server}", insecure-skip-tls-verify: true}`),
    'contexts:',
    ...contexts.map(([name]) => `- name: ${name}\n  context: {cluster: ${name}, user: ${name}}`),
    'users:',
    ...contexts.map(([name]) => `- name: ${name}\n  user: {token: t-${name}}`),
    `current-context: ${current}`,
    '',
  ].join('\n');

let home: string;
let first: string;
let second: string;
beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'kga-home-'));
  await mkdir(join(home, '.kube'));
  await writeFile(join(home, '.kube', 'config'), kubeconfig([['laptop', 'https://127.0.0.1:6441']], 'laptop'));
  first = join(home, 'first.yaml');
  second = join(home, 'second.yaml');
  await writeFile(first, kubeconfig([['dev', 'https://127.0.0.1:6442']], 'dev'));
  await writeFile(second, kubeconfig([['prod', 'https://127.0.0.1:6443'], ['dev', 'https://127.0.0.1:9999']], 'prod'));
});

const server = async (options: Parameters<typeof connectAsKubectl>[0], env: NodeJS.ProcessEnv) => (await connectAsKubectl(options, env, home))?.config.getCurrentCluster()?.server;

describe('finding the cluster as kubectl does', () => {
  it('~/.kube/config when neither --kubeconfig nor $KUBECONFIG is given', async () => {
    expect(await server({}, {})).toBe('https://127.0.0.1:6441');
  });

  it('$KUBECONFIG over ~/.kube/config; several files merged, the first current-context and the first entry of a name win', async () => {
    expect(await server({}, { KUBECONFIG: first })).toBe('https://127.0.0.1:6442');
    expect(await server({}, { KUBECONFIG: `${first}:${second}` })).toBe('https://127.0.0.1:6442');
    expect(await server({}, { KUBECONFIG: `${second}:${first}` })).toBe('https://127.0.0.1:6443');
  });

  it('--kubeconfig over both', async () => {
    expect(await server({ kubeconfig: second }, { KUBECONFIG: first })).toBe('https://127.0.0.1:6443');
  });

  it('--context picks a context of the merged files, and names the ones there are when it is not there', async () => {
    expect(await server({ context: 'prod' }, { KUBECONFIG: `${first}:${second}` })).toBe('https://127.0.0.1:6443');
    expect(await server({ context: 'laptop' }, {})).toBe('https://127.0.0.1:6441');
    await expect(connectAsKubectl({ context: 'staging' }, { KUBECONFIG: `${first}:${second}` }, home)).rejects.toThrow('context "staging" does not exist in');
  });

  it('nothing at all: no cluster', async () => {
    expect(await connectAsKubectl({}, {}, join(home, 'nowhere'))).toBeUndefined();
  });

  it('audit uses ~/.kube/config (it used to say "no cluster"), and says which server it could not read', async () => {
    const { code, stderr } = await runCli(['audit', '--profile', 'kgateway-v2.1'], { env: { PATH: process.env.PATH ?? '', HOME: home } });
    expect(code).toBe(2);
    expect(stderr).not.toContain('no cluster');
    expect(stderr).toContain('audit: cannot read the cluster');
    const unknown = await runCli(['audit', '--context', 'staging'], { env: { PATH: process.env.PATH ?? '', HOME: home } });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('context "staging" does not exist');
  });
});
