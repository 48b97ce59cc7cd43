// Warning events (events.k8s.io/v1) through a real kube-apiserver: `serve
// --events` records one on an object admitted with warnings, and on each
// object a ReferenceGrant's deletion leaves without its permission; a dry run
// records none, and a repeat within the interval is rate-limited.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gateway, httpListenerPolicy, referenceGrant } from '../support/builders.js';
import { kubeRequest, registerWebhooks, requireControlPlane, startControlPlane, startWebhookServer, type ControlPlane, type WebhookServer } from '../../harness/index.ts';
import { create, ensureNamespaces, metricValue, PATHS, pollUntil } from './support.js';

const skip = await requireControlPlane();

interface Event {
  type: string;
  reason: string;
  action: string;
  note: string;
  reportingController: string;
  regarding: { kind: string; namespace: string; name: string; uid?: string; apiVersion?: string };
  related?: { kind: string; namespace: string; name: string };
}

describe.skipIf(skip)('Warning events through a real kube-apiserver (serve --events)', () => {
  let cp: ControlPlane;
  let server: WebhookServer;

  beforeAll(async () => {
    cp = await startControlPlane();
    await ensureNamespaces(cp.kubeConfig, 'kgateway', 'monitoring');
    server = await startWebhookServer({ kubeconfigPath: cp.kubeconfigPath, extraArgs: ['--profile', 'kgateway-v2.1', '--events'] });
    await registerWebhooks(cp.kubeConfig, { url: server.url, caPem: server.caPem, failurePolicy: 'Fail' });
  });

  afterAll(async () => {
    await server?.stop();
    await cp?.stop();
  });

  async function eventsOn(namespace: string, name: string): Promise<Event[]> {
    const res = await kubeRequest(cp.kubeConfig, 'GET', `/apis/events.k8s.io/v1/namespaces/${namespace}/events`);
    expect(res.status, res.text).toBe(200);
    return (res.body.items as Event[]).filter((e) => e.regarding?.name === name);
  }

  it('an object admitted with a warning gets a Warning event pointing at the stored object', async () => {
    const res = await create(cp.kubeConfig, PATHS.gateways('kgateway'), gateway({ name: 'gw-warned' }));
    expect(res.status, res.text).toBe(201);
    expect(res.warnings.length).toBe(1);
    const { value: events } = await pollUntil('the Warning event on gw-warned', async () => {
      const found = await eventsOn('kgateway', 'gw-warned');
      return found.length > 0 ? found : undefined;
    });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'Warning',
      reason: 'AdmittedWithWarnings',
      action: 'Admitted',
      reportingController: 'kgateway-admission.dev/webhook',
      regarding: { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', namespace: 'kgateway', name: 'gw-warned', uid: res.body.metadata.uid },
    });
    expect(events[0]!.note).toBe(res.warnings[0]);
  });

  it('a repeat within the interval is rate-limited, and a dry run records nothing', async () => {
    const limitedBefore = await metricValue(server.metricsUrl, 'kgateway_admission_events_total', { result: 'rate-limited' });
    // An update of the same Gateway (still no GatewayParameters beside it) gets the same warning.
    const update = await kubeRequest(cp.kubeConfig, 'PATCH', `${PATHS.gateways('kgateway')}/gw-warned`, {
      body: { spec: { infrastructure: { parametersRef: null } } },
      contentType: 'application/merge-patch+json',
    });
    expect(update.status, update.text).toBe(200);
    expect(update.warnings.length).toBe(1);
    const dry = await create(cp.kubeConfig, PATHS.gateways('kgateway'), gateway({ name: 'gw-dry' }), { dryRun: true });
    expect(dry.status, dry.text).toBe(201);
    expect(dry.warnings.length).toBe(1);
    await pollUntil('the rate-limited count', async () =>
      (await metricValue(server.metricsUrl, 'kgateway_admission_events_total', { result: 'rate-limited' })) > limitedBefore ? true : undefined,
    );
    // Past the recorder's 1 s delay: nothing more was written.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await eventsOn('kgateway', 'gw-warned')).toHaveLength(1);
    expect(await eventsOn('kgateway', 'gw-dry')).toEqual([]);
  });

  it("deleting a ReferenceGrant puts a Warning event on each policy it leaves without its permission", async () => {
    expect((await create(cp.kubeConfig, PATHS.referenceGrants('monitoring'), referenceGrant({ name: 'events-grant' }))).status).toBe(201);
    for (const name of ['events-logging', 'events-tracing']) {
      // The grant may not have reached the watch yet; the webhook re-reads before denying.
      const res = await create(cp.kubeConfig, PATHS.httpListenerPolicies('kgateway'), httpListenerPolicy({ name }));
      expect(res.status, res.text).toBe(201);
    }
    // The view must know the policies before the guard can name them.
    await pollUntil('the policies to reach the view', async () => {
      const res = await kubeRequest(cp.kubeConfig, 'DELETE', `${PATHS.referenceGrants('monitoring')}/events-grant?dryRun=All`);
      return res.warnings.length === 2 ? true : undefined;
    });
    const deleted = await kubeRequest(cp.kubeConfig, 'DELETE', `${PATHS.referenceGrants('monitoring')}/events-grant`);
    expect(deleted.status, deleted.text).toBe(200);
    expect(deleted.warnings).toHaveLength(2);
    for (const name of ['events-logging', 'events-tracing']) {
      const { value: events } = await pollUntil(`the Warning event on ${name}`, async () => {
        const found = await eventsOn('kgateway', name);
        return found.length > 0 ? found : undefined;
      });
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        type: 'Warning',
        reason: 'ReferenceGrantRemoved',
        action: 'ReferenceGrantDeleted',
        regarding: { kind: 'HTTPListenerPolicy', namespace: 'kgateway', name },
        related: { kind: 'ReferenceGrant', namespace: 'monitoring', name: 'events-grant' },
      });
      expect(events[0]!.note).toContain('no grant now allows Service monitoring/otel-collector-collector');
    }
  });
});
