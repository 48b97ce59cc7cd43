// Policy reports (serve --reports) on a real kube-apiserver with the
// openreports.io CRDs from their Go module: a policy created before the
// webhook was registered, one admitted through it in warn mode (the
// Namespace's kgateway-admission.dev/enforcement label), and a grant deleted
// under live policies show up as `fail` results and go back to `pass` when
// fixed; two
// replicas share one Lease, only the holder writes, and the other takes over
// within the lease time when the holder dies.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpListenerPolicy, referenceGrant } from '../support/builders.js';
import { kubeRequest, registerWebhooks, requireControlPlane, startControlPlane, startWebhookServer, type ControlPlane, type WebhookServer } from '../../harness/index.ts';
import { create, ensureNamespaces, metricValue, PATHS, pollUntil } from './support.js';

const skip = await requireControlPlane();

const LEASE_SECONDS = 3;
const REPORT = '/apis/openreports.io/v1alpha1/namespaces/kgateway/reports/kgateway-admission';

interface Report {
  source: string;
  summary: { pass: number; fail: number; warn: number };
  results: { rule: string; result: string; message: string; resources: { kind: string; name: string; uid?: string }[]; properties?: Record<string, string> }[];
}

describe.skipIf(skip)('policy reports through a real kube-apiserver (serve --reports, two replicas)', () => {
  let cp: ControlPlane;
  const replicas: Record<string, WebhookServer> = {};

  beforeAll(async () => {
    cp = await startControlPlane();
    await ensureNamespaces(cp.kubeConfig, 'kgateway', 'monitoring', 'kga-system');
    // Admitted unchecked: no webhook is registered in this cluster.
    for (const name of ['unchecked', 'live']) {
      expect((await create(cp.kubeConfig, PATHS.httpListenerPolicies('kgateway'), httpListenerPolicy({ name }))).status).toBe(201);
    }
    const [a, b] = await Promise.all(
      ['replica-a', 'replica-b'].map((name) =>
        startWebhookServer({
          kubeconfigPath: cp.kubeconfigPath,
          extraArgs: ['--profile', 'kgateway-v2.1', '--reports', '--reports-lease-seconds', String(LEASE_SECONDS)],
          env: { POD_NAMESPACE: 'kga-system', POD_NAME: name },
        }),
      ),
    );
    replicas['replica-a'] = a!;
    replicas['replica-b'] = b!;
    await registerWebhooks(cp.kubeConfig, { url: a!.url, caPem: a!.caPem, failurePolicy: 'Fail' });
    // Warn mode for team-warn: the policy is admitted, with a warning, though no grant allows its ref.
    await ensureNamespaces(cp.kubeConfig, 'team-warn');
    const labelled = await kubeRequest(cp.kubeConfig, 'PATCH', '/api/v1/namespaces/team-warn', {
      body: { metadata: { labels: { 'kgateway-admission.dev/enforcement': 'warn' } } },
      contentType: 'application/merge-patch+json',
    });
    expect(labelled.status, labelled.text).toBe(200);
    const { value: warned } = await pollUntil('the warn label to reach the view', async () => {
      const res = await create(cp.kubeConfig, PATHS.httpListenerPolicies('team-warn'), httpListenerPolicy({ name: 'warned', namespace: 'team-warn' }));
      return res.status === 201 ? res : undefined;
    });
    expect(warned.warnings.join('\n')).toContain('warn mode');
  });

  afterAll(async () => {
    for (const r of Object.values(replicas)) await r.stop();
    await cp?.stop();
  });

  async function report(): Promise<Report | undefined> {
    const res = await kubeRequest(cp.kubeConfig, 'GET', REPORT);
    return res.status === 200 ? (res.body as Report) : undefined;
  }

  async function resultsUntil(what: string, wanted: Record<string, string>): Promise<Report> {
    const { value } = await pollUntil(
      what,
      async () => {
        const r = await report();
        if (!r) return undefined;
        const got = Object.fromEntries(r.results.map((x) => [x.resources[0]!.name, x.result]));
        return Object.entries(wanted).every(([name, result]) => got[name] === result) ? r : undefined;
      },
      30_000,
      200,
    );
    return value;
  }

  async function leader(): Promise<string> {
    const lease = await kubeRequest(cp.kubeConfig, 'GET', '/apis/coordination.k8s.io/v1/namespaces/kga-system/leases/kgateway-admission-reports');
    return lease.body?.spec?.holderIdentity as string;
  }

  it('a policy admitted unchecked shows up as a fail result with its missing ref, and the findings gauge counts it', async () => {
    const r = await resultsUntil('the fail results', { unchecked: 'fail', live: 'fail' });
    expect(r.source).toBe('kgateway-admission');
    expect(r.summary).toMatchObject({ pass: 0, fail: 2 });
    const unchecked = r.results.find((x) => x.resources[0]!.name === 'unchecked')!;
    expect(unchecked).toMatchObject({ rule: 'cross-namespace-backend-refs', properties: { problem: 'ungranted-reference', missingRefs: expect.stringContaining('Service monitoring/otel-collector-collector') } });
    expect(unchecked.resources[0]!.uid).toMatch(/^[0-9a-f-]{36}$/);
    // Only the Lease holder scans (issue 21 item 4): the other exports no findings.
    const holder = await leader();
    const findings = (replica: string) => metricValue(replicas[replica]!.metricsUrl, 'kgateway_admission_findings', { rule: 'cross-namespace-backend-refs', result: 'fail', namespace: 'kgateway' });
    await pollUntil('the findings gauge', async () => ((await findings(holder)) === 2 ? true : undefined));
    expect(await findings(Object.keys(replicas).find((n) => n !== holder)!)).toBe(0);
  });

  it('a policy admitted in warn mode shows up as a warn result, as check and audit rate it', async () => {
    const { value } = await pollUntil(
      'the warned policy\'s warn result',
      async () => {
        const res = await kubeRequest(cp.kubeConfig, 'GET', '/apis/openreports.io/v1alpha1/namespaces/team-warn/reports/kgateway-admission');
        return res.status === 200 && (res.body as Report).results.some((x) => x.resources[0]!.name === 'warned' && x.result === 'warn') ? (res.body as Report) : undefined;
      },
      30_000,
      200,
    );
    expect(value.results[0]).toMatchObject({ rule: 'cross-namespace-backend-refs', properties: { problem: 'ungranted-reference', enforcement: 'warn' } });
  });

  it('the fail results turn to pass once the grant exists, and back to fail when it is deleted under the live policies', async () => {
    expect((await create(cp.kubeConfig, PATHS.referenceGrants('monitoring'), referenceGrant({ name: 'reports-grant' }))).status).toBe(201);
    const fixed = await resultsUntil('the pass results', { unchecked: 'pass', live: 'pass' });
    expect(fixed.summary).toMatchObject({ pass: 2, fail: 0 });
    expect((await kubeRequest(cp.kubeConfig, 'DELETE', `${PATHS.referenceGrants('monitoring')}/reports-grant`)).status).toBe(200);
    const broken = await resultsUntil('the fail results after the deletion', { unchecked: 'fail', live: 'fail' });
    expect(broken.summary).toMatchObject({ pass: 0, fail: 2 });
  });

  it('only the Lease holder writes; when it dies the other takes over within the lease time and keeps the report current', async () => {
    const holder = await leader();
    expect(Object.keys(replicas)).toContain(holder);
    const other = Object.keys(replicas).find((n) => n !== holder)!;
    expect(await metricValue(replicas[holder]!.metricsUrl, 'kgateway_admission_reports_leader')).toBe(1);
    expect(await metricValue(replicas[other]!.metricsUrl, 'kgateway_admission_reports_leader')).toBe(0);
    expect(await metricValue(replicas[holder]!.metricsUrl, 'kgateway_admission_report_writes_total', { outcome: 'applied' })).toBeGreaterThan(0);
    expect(await metricValue(replicas[other]!.metricsUrl, 'kgateway_admission_report_writes_total', { outcome: 'applied' })).toBe(0);

    // SIGKILL: the lease is not given up; it must expire.
    await replicas[holder]!.stop();
    const killedAt = performance.now();
    const { ms } = await pollUntil('the other replica to take the lease', async () => ((await leader()) === other ? true : undefined), 30_000, 100);
    process.stderr.write(`[e2e] reports lease taken over ${ms.toFixed(0)} ms after the holder died (lease ${LEASE_SECONDS} s)\n`);
    expect(performance.now() - killedAt).toBeLessThan(LEASE_SECONDS * 1000 * 2 + 2_000);
    expect((await create(cp.kubeConfig, PATHS.referenceGrants('monitoring'), referenceGrant({ name: 'reports-grant-2' }))).status).toBe(201);
    await resultsUntil('the new leader to write the pass results', { unchecked: 'pass', live: 'pass' });
    expect(await metricValue(replicas[other]!.metricsUrl, 'kgateway_admission_report_writes_total', { outcome: 'applied' })).toBeGreaterThan(0);
  });
});
