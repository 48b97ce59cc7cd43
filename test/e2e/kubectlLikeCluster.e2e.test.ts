// check and audit find and read a live cluster as kubectl users expect
// (issue 24, 3), against a real kube-apiserver: `check --kubeconfig/--context`
// takes the cluster's ReferenceGrants beside its input; `audit` finds the
// cluster through $KUBECONFIG with several files and --context, or through
// ~/.kube/config, and -n limits it to one namespace.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gateway, httpListenerPolicy, referenceGrant } from '../support/builders.js';
import { runCli } from '../support/cli.js';
import { e2eTarget, type E2eCluster } from '../support/e2eTarget.js';
import { create, PATHS } from './support.js';

const target = await e2eTarget();

describe.skipIf(target.skip)(`check and audit find the cluster as kubectl does (${target.name})`, () => {
  let cp: E2eCluster;
  let dir: string;
  /** A kubeconfig beside the real one (so relative file paths still hold) whose current context is a dead server, and which also has the real one as context "real". */
  let twoContexts: string;
  /** A kubeconfig whose only context, current, is a dead server. */
  let deadOnly: string;
  beforeAll(async () => {
    cp = await target.startCluster({ namespaces: ['kgateway', 'team-b', 'monitoring'], withoutWebhookIn: ['kgateway', 'team-b', 'monitoring'] });
    dir = await mkdtemp(join(tmpdir(), 'kga-kubectl-like-'));
    const real = parse(await readFile(cp.kubeconfigPath, 'utf8'));
    const current = real.contexts.find((c: { name: string }) => c.name === real['current-context']);
    const dead = { name: 'dead', cluster: { server: 'https://127.0.0.1:1', 'insecure-skip-tls-verify': true } };
    const here = dirname(cp.kubeconfigPath);
    twoContexts = join(here, 'kga-two-contexts.yaml');
    await writeFile(
      twoContexts,
      stringify({ ...real, clusters: [...real.clusters, dead], contexts: [{ name: 'real', context: current.context }, { name: 'dead', context: { ...current.context, cluster: 'dead' } }], 'current-context': 'dead' }),
    );
    deadOnly = join(here, 'kga-dead-only.yaml');
    await writeFile(deadOnly, stringify({ ...real, clusters: [dead], contexts: [{ name: 'dead', context: { ...current.context, cluster: 'dead' } }], 'current-context': 'dead' }));
    const kc = cp.kubeConfig;
    expect((await create(kc, PATHS.httpListenerPolicies('kgateway'), httpListenerPolicy({ name: 'ungranted' }))).status).toBe(201);
    expect((await create(kc, PATHS.httpListenerPolicies('team-b'), httpListenerPolicy({ name: 'also-ungranted', namespace: 'team-b' }))).status).toBe(201);
    expect((await create(kc, PATHS.gateways('team-b'), gateway({ name: 'bare', namespace: 'team-b' }))).status).toBe(201);
  });
  afterAll(async () => {
    await cp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
    for (const file of [twoContexts, deadOnly]) if (file) await rm(file, { force: true });
  });

  it('check --kubeconfig: a ReferenceGrant in the cluster allows a policy of the input; --context picks the cluster', async () => {
    const manifest = join(dir, 'policy.yaml');
    await writeFile(manifest, stringify(httpListenerPolicy({ name: 'from-git', namespace: 'team-c' })));
    const grant = referenceGrant({ name: 'allow-team-c', from: [{ namespace: 'team-c' }] });
    expect((await create(cp.kubeConfig, PATHS.referenceGrants('monitoring'), grant)).status).toBe(201);
    const offline = await runCli(['check', manifest]);
    expect(offline.code).toBe(1);
    const live = await runCli(['check', '--kubeconfig', cp.kubeconfigPath, manifest], { timeoutMs: 60_000 });
    expect(live.code, live.stdout + live.stderr).toBe(0);
    expect(live.stdout).toContain('ALLOWED  HTTPListenerPolicy team-c/from-git');
    const context = await runCli(['check', '--kubeconfig', twoContexts, '--context', 'real', manifest], { timeoutMs: 60_000 });
    expect(context.code, context.stderr).toBe(0);
    // The current context (dead) without --context: a clear error, exit 2.
    const dead = await runCli(['check', '--kubeconfig', twoContexts, manifest], { timeoutMs: 60_000 });
    expect(dead.code).toBe(2);
    expect(dead.stderr).toMatch(/check: cannot read the cluster state from https:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/);
  });

  it('audit: $KUBECONFIG with several files and --context, and -n for one namespace', async () => {
    const env = { PATH: process.env.PATH ?? '', HOME: dir, KUBECONFIG: `${deadOnly}:${twoContexts}` };
    const all = await runCli(['audit', '--context', 'real', '--profile', 'kgateway-v2.1', '--output', 'json'], { env, timeoutMs: 60_000 });
    expect(all.code, all.stderr).toBe(1);
    expect(JSON.parse(all.stdout).findings.map((f: { namespace: string; name: string }) => `${f.namespace}/${f.name}`).sort()).toEqual(['kgateway/ungranted', 'team-b/also-ungranted', 'team-b/bare']);
    const one = await runCli(['audit', '--context', 'real', '-n', 'team-b', '--profile', 'kgateway-v2.1', '--output', 'json'], { env, timeoutMs: 60_000 });
    expect(JSON.parse(one.stdout).findings.map((f: { namespace: string; name: string }) => `${f.namespace}/${f.name}`).sort()).toEqual(['team-b/also-ungranted', 'team-b/bare']);
  });

  it('audit: ~/.kube/config when nothing else is given', async () => {
    const home = join(dir, 'home');
    await mkdir(join(home, '.kube'), { recursive: true });
    // Made absolute-path free: the same document as the real kubeconfig, read from the home folder.
    const real = parse(await readFile(cp.kubeconfigPath, 'utf8'));
    const base = dirname(cp.kubeconfigPath);
    for (const user of real.users ?? []) for (const key of ['client-certificate', 'client-key', 'tokenFile']) if (typeof user.user?.[key] === 'string' && !user.user[key].startsWith('/')) user.user[key] = join(base, user.user[key]);
    for (const cluster of real.clusters ?? []) if (typeof cluster.cluster?.['certificate-authority'] === 'string' && !cluster.cluster['certificate-authority'].startsWith('/')) cluster.cluster['certificate-authority'] = join(base, cluster.cluster['certificate-authority']);
    await writeFile(join(home, '.kube', 'config'), stringify(real));
    const { code, stdout, stderr } = await runCli(['audit', '--profile', 'kgateway-v2.1'], { env: { PATH: process.env.PATH ?? '', HOME: home }, timeoutMs: 60_000 });
    expect(stderr).not.toContain('no cluster');
    expect(code, stderr).toBe(1);
    expect(stdout).toContain('HTTPListenerPolicy kgateway/ungranted');
  });
});
