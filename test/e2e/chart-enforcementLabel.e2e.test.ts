// The chart's optional ValidatingAdmissionPolicy on the Namespace label
// kgateway-admission.dev/enforcement (enforcementLabelPolicy), for real: the
// rendered policy is applied to a real kube-apiserver, and with real
// ServiceAccount tokens a tenant whom RBAC lets update its own Namespace (as
// Capsule-style platforms do) cannot set, change or remove the label, through
// the Namespace or its status and finalize subresources, nor create a
// Namespace carrying it; the admin (system:masters) and a listed user can.
// Without the policy, RBAC alone lets the tenant set warn. The README's
// hardened example turns the policy on.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { CHART_DIR, find, helmBinary, renderChart, runHelm, serverSideApply, serviceAccountKubeconfig, valuesArgs, type KubeObject } from '../chart/support.js';
import { kubeRequest, startControlPlane, type ControlPlane, type KubeResponse } from '../../harness/index.ts';
import { describeOnlyOn, e2eTarget } from '../support/e2eTarget.js';
import { ensureNamespaces, pollUntil } from './support.js';

const target = await e2eTarget();

const LABEL = 'kgateway-admission.dev/enforcement';
const RELEASE = 'lab';
const NAMESPACE = 'kga-lab';
const POLICY = `${RELEASE}-kgateway-admission-enforcement-label`;
const GITOPS = 'system:serviceaccount:platform:gitops';
const REFUSED = `may set, change or remove the Namespace label ${LABEL}`;

describeOnlyOn(target, ['process'], 'it applies a policy that would bind every user of a shared cluster; the process target has the API server to itself')('enforcementLabelPolicy: who may set the enforcement label of a Namespace', () => {
  let helm: string;
  let cp: ControlPlane;
  let work: string;
  let tenant: KubeConfig;
  let gitops: KubeConfig;
  let policyObjects: KubeObject[];

  const loadKubeconfig = async (file: string): Promise<KubeConfig> => {
    const { KubeConfig } = await import('@kubernetes/client-node');
    const kc = new KubeConfig();
    kc.loadFromFile(file);
    return kc;
  };
  const labelPatch = (value: string | null, extra: Record<string, string | null> = {}) => ({ metadata: { labels: { [LABEL]: value, ...extra } } });
  const patchNamespace = (kc: KubeConfig, name: string, body: unknown): Promise<KubeResponse> =>
    kubeRequest(kc, 'PATCH', `/api/v1/namespaces/${name}`, { body, contentType: 'application/merge-patch+json' });
  const labelOf = async (name: string): Promise<string | undefined> => (await kubeRequest(cp.kubeConfig, 'GET', `/api/v1/namespaces/${name}`)).body.metadata.labels?.[LABEL];
  const expectRefused = (res: KubeResponse, what: string) => {
    expect(res.status, `${what}: ${res.text}`).toBe(403);
    expect(res.body.message, what).toContain(REFUSED);
  };

  beforeAll(async () => {
    helm = await helmBinary();
    cp = await startControlPlane();
    work = await mkdtemp(join(tmpdir(), 'kga-chart-label-'));
    await ensureNamespaces(cp.kubeConfig, NAMESPACE, 'platform', 'tenant-a');
    // A tenant who administers its own Namespace: a Role in tenant-a on the
    // namespaces resource applies to the Namespace object tenant-a itself.
    // It may also create Namespaces (self-service). The platform's GitOps
    // controller may update every Namespace.
    const rbac: KubeObject[] = [
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'admin', namespace: 'tenant-a' } },
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'gitops', namespace: 'platform' } },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: 'namespace-admin', namespace: 'tenant-a' },
        rules: [{ apiGroups: [''], resources: ['namespaces', 'namespaces/status', 'namespaces/finalize'], verbs: ['get', 'update', 'patch'] }],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'namespace-admin', namespace: 'tenant-a' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'namespace-admin' },
        subjects: [{ kind: 'ServiceAccount', name: 'admin', namespace: 'tenant-a' }],
      },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'namespace-creator' }, rules: [{ apiGroups: [''], resources: ['namespaces'], verbs: ['create'] }] },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'namespace-creator' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'namespace-creator' },
        subjects: [{ kind: 'ServiceAccount', name: 'admin', namespace: 'tenant-a' }],
      },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'namespace-writer' }, rules: [{ apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'create', 'update', 'patch'] }] },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'namespace-writer' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'namespace-writer' },
        subjects: [{ kind: 'ServiceAccount', name: 'gitops', namespace: 'platform' }],
      },
    ];
    for (const object of rbac) await serverSideApply(cp.kubeConfig, object);
    tenant = await loadKubeconfig(await serviceAccountKubeconfig(cp, 'tenant-a', 'admin', work));
    gitops = await loadKubeconfig(await serviceAccountKubeconfig(cp, 'platform', 'gitops', work));
    const rendered = await renderChart(helm, RELEASE, NAMESPACE, { enforcementLabelPolicy: { enabled: true, users: [GITOPS] } });
    policyObjects = [find(rendered, 'ValidatingAdmissionPolicy', POLICY), find(rendered, 'ValidatingAdmissionPolicyBinding', POLICY)];
  });

  afterAll(async () => {
    await cp?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('off by default: the chart renders no such policy, and RBAC alone lets the tenant set warn on its Namespace', async () => {
    const defaults = await renderChart(helm, RELEASE, NAMESPACE);
    expect(defaults.filter((o) => o.metadata.name === POLICY)).toEqual([]);
    const res = await patchNamespace(tenant, 'tenant-a', labelPatch('warn'));
    expect(res.status, res.text).toBe(200);
    expect(await labelOf('tenant-a')).toBe('warn');
    expect((await patchNamespace(cp.kubeConfig, 'tenant-a', labelPatch(null))).status).toBe(200);
    // The status and finalize subresources write labels too: why the policy matches them.
    for (const subresource of ['status', 'finalize']) {
      const current = (await kubeRequest(tenant, 'GET', '/api/v1/namespaces/tenant-a')).body;
      const body = { ...current, metadata: { ...current.metadata, labels: { ...current.metadata.labels, [LABEL]: 'warn' } } };
      const put = await kubeRequest(tenant, 'PUT', `/api/v1/namespaces/tenant-a/${subresource}`, { body });
      expect(put.status, `${subresource}: ${put.text}`).toBe(200);
      expect(await labelOf('tenant-a'), subresource).toBe('warn');
      expect((await patchNamespace(cp.kubeConfig, 'tenant-a', labelPatch(null))).status).toBe(200);
    }
  });

  it('on: the tenant cannot set, change or remove the label, by any path; the admin and the listed user can; other labels stay free', async () => {
    for (const object of policyObjects) await serverSideApply(cp.kubeConfig, object);
    // The policy takes effect once the API server has loaded it; until then
    // each probe must be a change (a value set again is no change: not matched).
    let probe = 0;
    await pollUntil('the policy to refuse the tenant', async () => ((await patchNamespace(tenant, 'tenant-a', labelPatch(`probe-${probe++}`))).status === 403 ? true : undefined), 15_000, 200);
    expect((await patchNamespace(cp.kubeConfig, 'tenant-a', labelPatch(null))).status).toBe(200);

    expectRefused(await patchNamespace(tenant, 'tenant-a', labelPatch('warn')), 'tenant sets warn');
    expectRefused(await patchNamespace(tenant, 'tenant-a', labelPatch('deny')), 'tenant sets deny');
    // The status and finalize subresources keep the labels of the object they receive.
    const current = (await kubeRequest(tenant, 'GET', '/api/v1/namespaces/tenant-a')).body;
    const withLabel = { ...current, metadata: { ...current.metadata, labels: { ...current.metadata.labels, [LABEL]: 'warn' } } };
    expectRefused(await kubeRequest(tenant, 'PUT', '/api/v1/namespaces/tenant-a/status', { body: withLabel }), 'tenant sets warn through namespaces/status');
    expectRefused(await kubeRequest(tenant, 'PUT', '/api/v1/namespaces/tenant-a/finalize', { body: withLabel }), 'tenant sets warn through namespaces/finalize');
    expectRefused(
      await kubeRequest(tenant, 'POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'tenant-a-dev', labels: { [LABEL]: 'warn' } } } }),
      'tenant creates a Namespace with warn',
    );
    expect(await labelOf('tenant-a')).toBeUndefined();

    // Everything else the tenant's RBAC allows still works.
    const team = await patchNamespace(tenant, 'tenant-a', { metadata: { labels: { team: 'a' } } });
    expect(team.status, team.text).toBe(200);
    const created = await kubeRequest(tenant, 'POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'tenant-a-dev', labels: { team: 'a' } } } });
    expect(created.status, created.text).toBe(201);

    // The admin (system:masters) sets deny; the tenant can neither change nor remove it.
    const admin = await patchNamespace(cp.kubeConfig, 'tenant-a', labelPatch('deny'));
    expect(admin.status, admin.text).toBe(200);
    expectRefused(await patchNamespace(tenant, 'tenant-a', labelPatch('warn')), 'tenant changes deny to warn');
    expectRefused(await patchNamespace(tenant, 'tenant-a', labelPatch(null)), 'tenant removes the label');
    expect(await labelOf('tenant-a')).toBe('deny');
    // A label untouched is no change: the tenant's other edits go through with it in place.
    expect((await patchNamespace(tenant, 'tenant-a', { metadata: { labels: { team: 'a2' } } })).status).toBe(200);

    // The listed user (the platform's GitOps controller) changes it, and creates a Namespace with it.
    const listed = await patchNamespace(gitops, 'tenant-a', labelPatch('warn'));
    expect(listed.status, listed.text).toBe(200);
    expect(await labelOf('tenant-a')).toBe('warn');
    const listedCreate = await kubeRequest(gitops, 'POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'tenant-b', labels: { [LABEL]: 'deny' } } } });
    expect(listedCreate.status, listedCreate.text).toBe(201);
  });

  it('a policy nobody could pass is refused when rendered', async () => {
    const res = await runHelm(helm, ['template', 'bad', CHART_DIR, ...(await valuesArgs({ enforcementLabelPolicy: { enabled: true, groups: [], users: [] } }))]);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('enforcementLabelPolicy.enabled needs at least one entry in enforcementLabelPolicy.groups or enforcementLabelPolicy.users');
    const empty = await runHelm(helm, ['template', 'bad', CHART_DIR, ...(await valuesArgs({ enforcementLabelPolicy: { groups: [''] } }))]);
    expect(empty.code).not.toBe(0);
    expect(empty.stderr).toContain("at '/enforcementLabelPolicy/groups/0'");
  });

  it("the chart README's hardened example turns it on, and renders", async () => {
    const readme = await readFile(join(CHART_DIR, 'README.md'), 'utf8');
    const block = /```yaml\n(# hardened-values\.yaml[\s\S]*?)```/.exec(readme)?.[1];
    expect(block, 'a ```yaml block starting with # hardened-values.yaml in the chart README').toBeDefined();
    const values = parseYaml(block!) as Record<string, unknown>;
    expect(values).toMatchObject({ enforcementLabelPolicy: { enabled: true } });
    const rendered = await renderChart(helm, RELEASE, NAMESPACE, values);
    expect(find(rendered, 'ValidatingAdmissionPolicy', POLICY).spec.validations).toHaveLength(1);
    find(rendered, 'ValidatingAdmissionPolicyBinding', POLICY);
    find(rendered, 'NetworkPolicy');
  });
});
