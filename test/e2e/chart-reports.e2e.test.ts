// The chart's RBAC for reports.enabled and events.enabled, for real: the
// server runs under the chart's ServiceAccount token with --reports and
// --events; it takes the Lease, writes the openreports.io Report, and records
// a Warning event, with nothing failing for want of a permission; the same
// token cannot write or delete Reports of other names (Kyverno's). On a chart
// target (node, kind) the pods do it with their own token, reports.enabled=true.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureNamespace, find, helmBinary, renderChart, serverSideApply, serviceAccountKubeconfig } from '../chart/support.js';
import { gateway, httpListenerPolicy } from '../support/builders.js';
import { kubeRequest, registerWebhooks, startControlPlane, startWebhookServer, type ControlPlane, type WebhookServer } from '../../harness/index.ts';
import { describeOnlyOn, e2eTarget, type WebhookUnderTest } from '../support/e2eTarget.js';
import { referenceGrant } from '../support/builders.js';
import { create, ensureNamespaces, metricValue, PATHS, pollUntil } from './support.js';

const target = await e2eTarget();

const RELEASE = 'rep';
const NAMESPACE = 'kga-rep';
const FULLNAME = `${RELEASE}-kgateway-admission`;

describeOnlyOn(target, ['process'], 'on a chart target its pods do it, in the next group')('chart RBAC for reports and events, under the chart ServiceAccount', () => {
  let cp: ControlPlane;
  let server: WebhookServer | undefined;
  let work: string;
  let saKc: import('@kubernetes/client-node').KubeConfig;

  beforeAll(async () => {
    const helm = await helmBinary();
    cp = await startControlPlane();
    work = await mkdtemp(join(tmpdir(), 'kga-chart-reports-'));
    await ensureNamespace(cp.kubeConfig, NAMESPACE);
    await ensureNamespaces(cp.kubeConfig, 'kgateway', 'monitoring');
    const rendered = await renderChart(helm, RELEASE, NAMESPACE, { reports: { enabled: true }, events: { enabled: true }, certificates: { mode: 'secret', secret: { name: 'x', caBundle: '-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n' } } });
    const deployment = find(rendered, 'Deployment');
    expect(deployment.spec.template.spec.containers[0].args).toEqual(expect.arrayContaining(['--events', '--reports']));
    for (const object of rendered.filter((o) => ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(o.kind))) {
      await serverSideApply(cp.kubeConfig, object, NAMESPACE);
    }
    expect((await create(cp.kubeConfig, PATHS.httpListenerPolicies('kgateway'), httpListenerPolicy({ name: 'ungranted' }))).status).toBe(201);
    const kubeconfigPath = await serviceAccountKubeconfig(cp, NAMESPACE, FULLNAME, work);
    const { KubeConfig } = await import('@kubernetes/client-node');
    saKc = new KubeConfig();
    saKc.loadFromFile(kubeconfigPath);
    server = await startWebhookServer({
      kubeconfigPath,
      extraArgs: ['--profile', 'kgateway-v2.1', '--reports', '--events', '--reports-lease-seconds', '3'],
      env: { POD_NAMESPACE: NAMESPACE, POD_NAME: 'rep-0' },
    });
    await registerWebhooks(cp.kubeConfig, { url: server.url, caPem: server.caPem, failurePolicy: 'Fail' });
  });

  afterAll(async () => {
    await server?.stop();
    await cp?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('takes the Lease in the release namespace and writes the Report', async () => {
    const { value: report } = await pollUntil(
      'the Report',
      async () => {
        const res = await kubeRequest(cp.kubeConfig, 'GET', '/apis/openreports.io/v1alpha1/namespaces/kgateway/reports/kgateway-admission');
        return res.status === 200 ? res.body : undefined;
      },
      30_000,
      200,
    );
    expect(report.results).toEqual([expect.objectContaining({ result: 'fail', resources: [expect.objectContaining({ name: 'ungranted' })] })]);
    const lease = await kubeRequest(cp.kubeConfig, 'GET', `/apis/coordination.k8s.io/v1/namespaces/${NAMESPACE}/leases/kgateway-admission-reports`);
    expect(lease.body.spec.holderIdentity).toBe('rep-0');
    expect(await metricValue(server!.metricsUrl, 'kgateway_admission_report_writes_total', { outcome: 'failed' })).toBe(0);
    expect(server!.logs()).not.toContain('lease request failed');
  });

  it('records a Warning event with only the chart permissions', async () => {
    const res = await create(cp.kubeConfig, PATHS.gateways('kgateway'), gateway({ name: 'rbac-warned' }));
    expect(res.status, res.text).toBe(201);
    expect(res.warnings).toHaveLength(1);
    await pollUntil('the event to be recorded', async () => ((await metricValue(server!.metricsUrl, 'kgateway_admission_events_total', { result: 'recorded' })) >= 1 ? true : undefined), 15_000, 100);
    expect(await metricValue(server!.metricsUrl, 'kgateway_admission_events_total', { result: 'failed' })).toBe(0);
  });

  it("the token may create, change and delete only Reports named like ours, in any namespace; Kyverno's and anyone else's are out of its reach", async () => {
    const reports = (ns: string) => `/apis/openreports.io/v1alpha1/namespaces/${ns}/reports`;
    const report = (ns: string, name: string, source: string) => ({ apiVersion: 'openreports.io/v1alpha1', kind: 'Report', metadata: { name, namespace: ns }, source, results: [] });
    // A Report as Kyverno names them (after the resource's UID), written by someone else.
    const kyverno = '6f1c0e9a-2b1d-4c8e-9a57-0d3f4b2e8c11';
    const made = await kubeRequest(cp.kubeConfig, 'POST', reports('monitoring'), { body: report('monitoring', kyverno, 'kyverno') });
    expect(made.status, made.text).toBe(201);
    const apply = { contentType: 'application/apply-patch+yaml' };
    const attempts: [string, string, string, { body?: unknown; contentType?: string }][] = [
      ["patch Kyverno's Report", 'PATCH', `${reports('monitoring')}/${kyverno}`, { body: { results: [] }, contentType: 'application/merge-patch+json' }],
      ["server-side apply over Kyverno's Report", 'PATCH', `${reports('monitoring')}/${kyverno}?fieldManager=kgateway-admission&force=true`, { ...apply, body: report('monitoring', kyverno, 'kgateway-admission') }],
      ["delete Kyverno's Report", 'DELETE', `${reports('monitoring')}/${kyverno}`, {}],
      ['create a Report of another name', 'POST', reports('kgateway'), { body: report('kgateway', 'planted', 'kgateway-admission') }],
      ['create a Report of another name by server-side apply', 'PATCH', `${reports('kgateway')}/planted?fieldManager=kgateway-admission`, { ...apply, body: report('kgateway', 'planted', 'kgateway-admission') }],
    ];
    for (const [what, method, path, options] of attempts) {
      const res = await kubeRequest(saKc, method, path, options);
      expect(res.status, `${what}: ${res.text}`).toBe(403);
    }
    const kept = await kubeRequest(cp.kubeConfig, 'GET', `${reports('monitoring')}/${kyverno}`);
    expect(kept.status, kept.text).toBe(200);
    expect(kept.body.metadata.managedFields.map((f: { manager: string }) => f.manager)).not.toContain('kgateway-admission');
    // Its own name, in a namespace where it has none yet: server-side apply creates it (dry run).
    const own = await kubeRequest(saKc, 'PATCH', `${reports('monitoring')}/kgateway-admission?fieldManager=kgateway-admission&dryRun=All`, { ...apply, body: report('monitoring', 'kgateway-admission', 'kgateway-admission') });
    expect(own.status, own.text).toBe(201);
    // And listing stays cluster-wide (RBAC cannot filter a list by name).
    expect((await kubeRequest(saKc, 'GET', '/apis/openreports.io/v1alpha1/reports')).status).toBe(200);
  });
});

describeOnlyOn(target, ['kind'], 'the process target has no pods: the server under the chart token is the group above')(`the chart's pods write the Report and record events with the chart's permissions (${target.name})`, () => {
  let kc: import('@kubernetes/client-node').KubeConfig;
  let server: WebhookUnderTest;
  let release: { namespace: string; fullname: string };

  beforeAll(async () => {
    const cluster = await target.startCluster({ namespaces: ['kgateway', 'monitoring'] });
    kc = cluster.kubeConfig;
    release = cluster.chart!;
    // An ungranted policy in the cluster, made past the webhook as users do: granted, then the grant deleted.
    expect((await create(kc, PATHS.referenceGrants('monitoring'), referenceGrant({ name: 'short-lived' }))).status).toBe(201);
    expect((await create(kc, PATHS.httpListenerPolicies('kgateway'), httpListenerPolicy({ name: 'ungranted' }))).status).toBe(201);
    expect((await kubeRequest(kc, 'DELETE', `${PATHS.referenceGrants('monitoring')}/short-lived`)).status).toBe(200);
    server = await target.startWebhook(cluster, { profile: 'kgateway-v2.1', chartValues: { reports: { enabled: true }, events: { enabled: true } } });
  });

  afterAll(async () => {
    await server?.release();
  });

  it('one pod takes the Lease in the release namespace and writes the Report', async () => {
    const { value: report } = await pollUntil('the Report', async () => {
      const res = await kubeRequest(kc, 'GET', '/apis/openreports.io/v1alpha1/namespaces/kgateway/reports/kgateway-admission');
      return res.status === 200 ? res.body : undefined;
    }, 90_000, 500);
    expect(report.results).toEqual([expect.objectContaining({ result: 'fail', resources: [expect.objectContaining({ name: 'ungranted' })] })]);
    const lease = await kubeRequest(kc, 'GET', `/apis/coordination.k8s.io/v1/namespaces/${release.namespace}/leases/kgateway-admission-reports`);
    const pods = await kubeRequest(kc, 'GET', `/api/v1/namespaces/${release.namespace}/pods?labelSelector=${encodeURIComponent('app.kubernetes.io/name=kgateway-admission')}`);
    expect((pods.body.items as { metadata: { name: string } }[]).map((p) => p.metadata.name)).toContain(lease.body.spec.holderIdentity);
    expect(await server.metric('kgateway_admission_report_writes_total', { outcome: 'failed' })).toBe(0);
    for (const log of await server.logs()) expect(log).not.toContain('lease request failed');
  });

  it('records a Warning event with only the chart permissions', async () => {
    const res = await create(kc, PATHS.gateways('kgateway'), gateway({ name: 'rbac-warned' }));
    expect(res.status, res.text).toBe(201);
    expect(res.warnings).toHaveLength(1);
    await pollUntil('the event to be recorded', async () => ((await server.metric('kgateway_admission_events_total', { result: 'recorded' })) >= 1 ? true : undefined), 30_000, 250);
    expect(await server.metric('kgateway_admission_events_total', { result: 'failed' })).toBe(0);
  });
});
