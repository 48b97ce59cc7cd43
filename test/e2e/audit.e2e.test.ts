// `audit` against a real kube-apiserver holding objects created without the
// webhook, on every target (test/support/e2eTarget.ts): on a chart target the
// cluster has the chart installed, its webhooks leaving out the namespaces here.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gateway, httpListenerPolicy } from '../support/builders.js';
import { runCli } from '../support/cli.js';
import { kubeRequest } from '../../harness/index.ts';
import { e2eTarget, type E2eCluster } from '../support/e2eTarget.js';
import { create, PATHS } from './support.js';

const target = await e2eTarget();

describe.skipIf(target.skip)(`kgateway-admission audit on a live cluster (${target.name})`, () => {
  let cp: E2eCluster;
  beforeAll(async () => {
    cp = await target.startCluster({ namespaces: ['kgateway', 'monitoring'], withoutWebhookIn: ['kgateway', 'monitoring'] });
  });
  afterAll(async () => {
    await cp?.stop();
  });

  const audit = (...args: string[]) => runCli(['audit', '--kubeconfig', cp.kubeconfigPath, '--profile', 'kgateway-v2.1', ...args], { timeoutMs: 60_000 });

  it('exits 0 on a clean cluster', async () => {
    const { code, stdout, stderr } = await audit();
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/objects audited: no findings$/m);
  });

  it('lists every problem, as text and JSON, and exits 1', async () => {
    const kc = cp.kubeConfig;
    expect((await create(kc, PATHS.httpListenerPolicies('kgateway'), httpListenerPolicy({ name: 'ungranted' }))).status).toBe(201);
    expect((await create(kc, PATHS.gateways('kgateway'), gateway({ name: 'bare' }))).status).toBe(201);
    expect((await create(kc, PATHS.gateways('kgateway'), gateway({ name: 'envoy', className: 'kgateway' }))).status).toBe(201);
    const text = await audit();
    expect(text.code).toBe(1);
    expect(text.stdout).toContain('ungranted-reference    HTTPListenerPolicy kgateway/ungranted');
    expect(text.stdout).toContain('kind: ReferenceGrant');
    expect(text.stdout).toContain('missing-parametersRef  Gateway kgateway/bare');
    const json = await audit('--output', 'json');
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout);
    expect(report.profile).toBe('kgateway-v2.1');
    expect(report.findings.map((f: { problem: string; name: string }) => [f.problem, f.name])).toEqual([
      ['missing-parametersRef', 'bare'],
      ['ungranted-reference', 'ungranted'],
    ]);
    // Creating the grants the finding suggests, as they are, and adding the ref clear the findings.
    const ungranted = report.findings.find((f: { problem: string }) => f.problem === 'ungranted-reference');
    expect(ungranted.suggestions).toHaveLength(1);
    for (const grant of ungranted.suggestions) {
      const created = await create(kc, PATHS.referenceGrants(grant.metadata.namespace), grant);
      expect(created.status, created.text).toBe(201);
    }
    expect((await kubeRequest(kc, 'DELETE', `${PATHS.gateways('kgateway')}/bare`)).status).toBe(200);
    const clean = await audit('--output', 'json');
    expect(JSON.parse(clean.stdout).findings).toEqual([]);
    expect(clean.code).toBe(0);
  });

  it('exits 2 with a clear message when the cluster cannot be reached or no credentials are given', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kga-audit-'));
    const { readFile } = await import('node:fs/promises');
    const bad = join(dir, 'kubeconfig');
    await writeFile(bad, (await readFile(cp.kubeconfigPath, 'utf8')).replace(cp.server, 'https://127.0.0.1:1'));
    const unreachable = await runCli(['audit', '--kubeconfig', bad, '--profile', 'kgateway-v2.1'], { timeoutMs: 60_000 });
    expect(unreachable.code).toBe(2);
    expect(unreachable.stderr).toMatch(/audit: cannot read the cluster: .*ECONNREFUSED/);
    expect(unreachable.stderr).not.toMatch(/\n\s+at /);
    const { rm } = await import('node:fs/promises');
    await rm(dir, { recursive: true, force: true });
  });
});
