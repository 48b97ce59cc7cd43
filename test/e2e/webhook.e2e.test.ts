// The real API server calling the real server: mutation applied, denials
// surfaced, grants followed by the watch, dry-run and failurePolicy. Runs on
// every target (test/support/e2eTarget.ts): the server process, and the
// chart's pods on the node and on kind.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendRef, gateway, gatewayClass, httpListenerPolicy, listenerPolicy, referenceGrant } from '../support/builders.js';
import { kubeRequest, registerWebhooks, unregisterWebhooks } from '../../harness/index.ts';
import { e2eTarget, onlyOn, type E2eCluster, type WebhookUnderTest } from '../support/e2eTarget.js';
import { httpsRequest } from '../support/https.js';
import { create, PATHS, pollUntil, startUnsyncedServer } from './support.js';

const target = await e2eTarget();

const OTEL_REF = { group: 'gateway.kgateway.dev', kind: 'GatewayParameters', name: 'agentgateway-otel' };

describe.skipIf(target.skip)(`webhook through a real kube-apiserver (${target.name})`, () => {
  let cluster: E2eCluster;
  let server: WebhookUnderTest;

  beforeAll(async () => {
    cluster = await target.startCluster({ namespaces: ['kgateway', 'monitoring', 'tracing'], gatewayClasses: ['team-ai'] });
    // The brief's setup is kgateway v2.1's: GatewayParameters. The CRDs here
    // are v2.2.0's, which alone would make serve pick agentgateway-v2.2.
    server = await target.startWebhook(cluster, { profile: 'kgateway-v2.1' });
    // The GatewayParameters the mutation points at, beside the Gateways of
    // namespace kgateway: without it the webhook leaves them untouched.
    const params = { apiVersion: 'gateway.kgateway.dev/v1alpha1', kind: 'GatewayParameters', metadata: { name: 'agentgateway-otel', namespace: 'kgateway' }, spec: { kube: { agentgateway: { enabled: true } } } };
    const created = await create(cluster.kubeConfig, '/apis/gateway.kgateway.dev/v1alpha1/namespaces/kgateway/gatewayparameters', params);
    expect(created.status, created.text).toBe(201);
    await pollUntil('the GatewayParameters to reach the view', async () => {
      const res = await create(cluster.kubeConfig, PATHS.gateways('kgateway'), gateway({ name: 'probe' }), { dryRun: true });
      return res.body?.spec?.infrastructure?.parametersRef ? res : undefined;
    });
  });

  afterAll(async () => {
    await server?.release();
    await cluster?.stop();
  });

  const kc = () => cluster.kubeConfig;

  describe('Gateways', () => {
    it.each(['v1', 'v1beta1'])('an agentgateway Gateway created as %s comes back with the parametersRef', async (version) => {
      const res = await create(kc(), PATHS.gateways('kgateway', version), gateway({ name: `gw-${version}`, version }));
      expect(res.status, res.text).toBe(201);
      expect(res.body.spec.infrastructure).toEqual({ parametersRef: OTEL_REF });
      expect(res.warnings).toEqual([]);
      const stored = await kubeRequest(kc(), 'GET', `${PATHS.gateways('kgateway')}/gw-${version}`);
      expect(stored.body.spec.infrastructure.parametersRef).toEqual(OTEL_REF);
    });

    it('leaves a Gateway untouched, with a warning saying what to do, while its namespace has no GatewayParameters; adds the ref once it exists', async () => {
      // kgateway's deployer refuses a Gateway whose parametersRef names a missing object: no ref is better than that.
      const bare = await create(kc(), PATHS.gateways('tracing'), gateway({ name: 'bare', namespace: 'tracing' }));
      expect(bare.status, bare.text).toBe(201);
      expect(bare.body.spec.infrastructure).toBeUndefined();
      expect(bare.warnings).toEqual(['parametersRef not added: create GatewayParameters tracing/agentgateway-otel, then re-apply the Gateway']);
      const params = { apiVersion: 'gateway.kgateway.dev/v1alpha1', kind: 'GatewayParameters', metadata: { name: 'agentgateway-otel', namespace: 'tracing' }, spec: { kube: { agentgateway: { enabled: true } } } };
      expect((await create(kc(), '/apis/gateway.kgateway.dev/v1alpha1/namespaces/tracing/gatewayparameters', params)).status).toBe(201);
      const { value } = await pollUntil('the GatewayParameters to reach the view', async () => {
        const res = await create(kc(), PATHS.gateways('tracing'), gateway({ name: 'quiet', namespace: 'tracing' }), { dryRun: true });
        return res.warnings.length === 0 ? res : undefined;
      });
      expect(value.body.spec.infrastructure).toEqual({ parametersRef: OTEL_REF });
    });

    it('leaves a kgateway-class Gateway and an opted-out one unchanged, and keeps an explicit ref', async () => {
      const plain = await create(kc(), PATHS.gateways('kgateway'), gateway({ name: 'envoy', className: 'kgateway' }));
      expect(plain.status, plain.text).toBe(201);
      expect(plain.body.spec.infrastructure).toBeUndefined();
      const optedOut = await create(kc(), PATHS.gateways('kgateway'), gateway({ name: 'opted-out', annotations: { 'kgateway-admission.dev/skip': 'true' } }));
      expect(optedOut.status, optedOut.text).toBe(201);
      expect(optedOut.body.spec.infrastructure).toBeUndefined();
      const own = { group: 'gateway.kgateway.dev', kind: 'GatewayParameters', name: 'my-params' };
      const explicit = await create(kc(), PATHS.gateways('kgateway'), gateway({ name: 'explicit', spec: { infrastructure: { parametersRef: own, labels: { a: 'b' } } } }));
      expect(explicit.status, explicit.text).toBe(201);
      expect(explicit.body.spec.infrastructure).toEqual({ parametersRef: own, labels: { a: 'b' } });
    });

    it('puts the ref back when an UPDATE removes it', async () => {
      const created = await create(kc(), PATHS.gateways('kgateway'), gateway({ name: 'updated', spec: { infrastructure: { labels: { team: 'ai' } } } }));
      expect(created.body.spec.infrastructure).toEqual({ labels: { team: 'ai' }, parametersRef: OTEL_REF });
      const updated = await kubeRequest(kc(), 'PATCH', `${PATHS.gateways('kgateway')}/updated`, {
        body: { spec: { infrastructure: { parametersRef: null } } },
        contentType: 'application/merge-patch+json',
      });
      expect(updated.status, updated.text).toBe(200);
      expect(updated.body.spec.infrastructure).toEqual({ labels: { team: 'ai' }, parametersRef: OTEL_REF });
    });

    it('treats a class whose GatewayClass names the agentgateway controller as agentgateway, once the watch has it', async () => {
      const cls = await create(kc(), PATHS.gatewayClasses, gatewayClass('team-ai', 'kgateway.dev/agentgateway'));
      expect(cls.status, cls.text).toBe(201);
      const { value, ms } = await pollUntil('the GatewayClass to reach the view', async () => {
        const res = await create(kc(), PATHS.gateways('kgateway'), gateway({ name: 'custom-class', className: 'team-ai' }), { dryRun: true });
        return res.body?.spec?.infrastructure?.parametersRef ? res : undefined;
      });
      process.stderr.write(`[e2e] GatewayClass reached the watch-backed view in ${ms.toFixed(0)} ms\n`);
      expect(value.body.spec.infrastructure.parametersRef).toEqual(OTEL_REF);
    });
  });

  describe('HTTPListenerPolicy across namespaces', () => {
    it('is rejected before the ReferenceGrant exists, accepted after, and rejected again after it is deleted', async () => {
      const policy = httpListenerPolicy({ name: 'brief-logging' });
      const before = await create(kc(), PATHS.httpListenerPolicies('kgateway'), policy);
      expect(before.status).toBe(403);
      expect(before.body.message).toContain('admission webhook "policies.validate.kgateway-admission.kgateway.dev" denied the request');
      expect(before.body.message).toContain('- spec.accessLog[0].openTelemetry.grpcService.backendRef: Service monitoring/otel-collector-collector');
      expect(before.body.message).toContain('Create this ReferenceGrant in namespace monitoring');

      const grant = await create(kc(), PATHS.referenceGrants('monitoring'), referenceGrant({ name: 'brief-grant' }));
      expect(grant.status, grant.text).toBe(201);
      const grantedAt = performance.now();
      // The view has the grant once a /validate answer is an allow that needed no
      // live re-read, from every replica (the API server may call any of them).
      const seen = await pollUntil('the ReferenceGrant to reach the watch-backed view of every replica', async () => {
        const confirmations = await server.metricPerReplica('kgateway_admission_denial_confirmations_total');
        const reviews = await server.reviewEachReplica('/validate', JSON.stringify({
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          request: { uid: 'probe', kind: { group: 'gateway.kgateway.dev', version: 'v1alpha1', kind: 'HTTPListenerPolicy' }, operation: 'CREATE', namespace: 'kgateway', object: policy },
        }));
        const after = await server.metricPerReplica('kgateway_admission_denial_confirmations_total');
        return reviews.length === confirmations.length && reviews.every((r) => r.json().response.allowed) && after.every((n, i) => n === confirmations[i]) ? true : undefined;
      });
      process.stderr.write(`[e2e] ReferenceGrant creation reached the view within ${(performance.now() - grantedAt).toFixed(0)} ms (poll ${seen.ms.toFixed(0)} ms)\n`);
      const accepted = await create(kc(), PATHS.httpListenerPolicies('kgateway'), policy);
      expect(accepted.status, accepted.text).toBe(201);

      const deleted = await kubeRequest(kc(), 'DELETE', `${PATHS.referenceGrants('monitoring')}/brief-grant`);
      expect(deleted.status).toBe(200);
      // The grant guard's warning, as `kubectl delete` prints it.
      expect(deleted.warnings).toEqual(['deleting ReferenceGrant monitoring/brief-grant breaks HTTPListenerPolicy kgateway/brief-logging']);
      const rejected = await pollUntil('the deletion to reach the view', async () => {
        const res = await create(kc(), PATHS.httpListenerPolicies('kgateway'), httpListenerPolicy({ name: 'after-delete' }), { dryRun: true });
        return res.status === 403 ? res : undefined;
      });
      process.stderr.write(`[e2e] ReferenceGrant deletion reached the view in ${rejected.ms.toFixed(0)} ms\n`);
      expect(rejected.value.body.message).toContain('no ReferenceGrant allows');
    });

    it('accepts a grant and the policy that needs it sent together, every time', async () => {
      const before = await server.metric('kgateway_admission_denial_confirmations_total', { outcome: 'overturned' });
      for (let i = 0; i < 5; i++) {
        // As `kubectl apply -f` of one file: the grant's POST, then the policy's at once.
        const grant = create(kc(), PATHS.referenceGrants('tracing'), referenceGrant({ name: `bundle-${i}`, namespace: 'tracing', to: [{ name: `tempo-${i}` }] }));
        const grantResult = await grant;
        expect(grantResult.status, grantResult.text).toBe(201);
        const policy = await create(kc(), PATHS.httpListenerPolicies('kgateway'), httpListenerPolicy({ name: `bundle-${i}`, otelAccessLogRefs: [backendRef({ name: `tempo-${i}`, namespace: 'tracing' })] }));
        expect(policy.status, policy.text).toBe(201);
      }
      const after = await server.metric('kgateway_admission_denial_confirmations_total', { outcome: 'overturned' });
      process.stderr.write(`[e2e] bundles: ${after - before} of 5 policies were allowed only after the live re-read of grants\n`);
      expect(after).toBeGreaterThanOrEqual(before);
    });

    it('names only the refs that lack a grant when several refs are given', async () => {
      await create(kc(), PATHS.referenceGrants('monitoring'), referenceGrant({ name: 'several' }));
      const res = await create(kc(), PATHS.httpListenerPolicies('kgateway'), httpListenerPolicy({
        name: 'several',
        otelAccessLogRefs: [backendRef()],
        tracingRef: backendRef({ name: 'jaeger', namespace: 'tracing' }),
      }));
      expect(res.status).toBe(403);
      expect(res.body.message).toContain('spec.tracing.provider.openTelemetry.grpcService.backendRef: Service tracing/jaeger');
      expect(res.body.message).not.toContain('Service monitoring/otel-collector-collector');
    });

    it('checks ListenerPolicy per-port refs', async () => {
      const policy = listenerPolicy({ name: 'per-port', perPortRefs: [backendRef({ namespace: 'kgateway' }), backendRef({ name: 'per-port-sink' })] });
      const denied = await create(kc(), PATHS.listenerPolicies('kgateway'), policy);
      expect(denied.status, denied.text).toBe(403);
      expect(denied.body.message).toContain('spec.perPort[1].listener.httpSettings.accessLog[0].openTelemetry.grpcService.backendRef: Service monitoring/per-port-sink');
      expect(denied.body.message).toContain('kind: ListenerPolicy');
      // A `to` without a name allows every Service in the namespace.
      const everyService = referenceGrant({ name: 'listener-policies', from: [{ kind: 'ListenerPolicy' }] });
      delete (everyService.spec as { to: { name?: string }[] }).to[0]!.name;
      const grant = await create(kc(), PATHS.referenceGrants('monitoring'), everyService);
      expect(grant.status, grant.text).toBe(201);
      const accepted = await create(kc(), PATHS.listenerPolicies('kgateway'), policy);
      expect(accepted.status, accepted.text).toBe(201);
    });

    it('checks refs added to a policy held open by a finalizer after its deletion, and lets the finalizer go', async () => {
      const grant = await create(kc(), PATHS.referenceGrants('monitoring'), referenceGrant({ name: 'held-open', to: [{ name: 'held-sink' }] }));
      expect(grant.status, grant.text).toBe(201);
      const held = httpListenerPolicy({ name: 'held-open', otelAccessLogRefs: [backendRef({ name: 'held-sink' })] });
      held.metadata = { ...held.metadata, finalizers: ['example.com/hold'] };
      const created = await create(kc(), PATHS.httpListenerPolicies('kgateway'), held);
      expect(created.status, created.text).toBe(201);
      const path = `${PATHS.httpListenerPolicies('kgateway')}/held-open`;
      expect((await kubeRequest(kc(), 'DELETE', path)).status).toBe(200);
      const deleting = (await kubeRequest(kc(), 'GET', path)).body;
      expect(deleting.metadata.deletionTimestamp).toBeTruthy();

      // Kubernetes takes spec edits while deletionTimestamp is set: an ungranted ref added now is still refused.
      const withUngranted = httpListenerPolicy({ otelAccessLogRefs: [backendRef({ name: 'held-sink' }), backendRef({ name: 'held-ungranted', namespace: 'tracing' })] }).spec;
      const edited = await kubeRequest(kc(), 'PUT', path, { body: { ...deleting, spec: withUngranted } });
      expect(edited.status, edited.text).toBe(403);
      expect(edited.body.message).toContain('Service tracing/held-ungranted');
      expect(edited.body.message).not.toContain('monitoring/held-sink');

      // Removing the finalizer, refs as they were, is let through and the object goes away.
      const released = await kubeRequest(kc(), 'PUT', path, { body: { ...deleting, metadata: { ...deleting.metadata, finalizers: [] } } });
      expect(released.status, released.text).toBe(200);
      await pollUntil('the policy to be gone', async () => ((await kubeRequest(kc(), 'GET', path)).status === 404 ? true : undefined));
    });

    it('gives the same decision to a server-side dry run and stores nothing', async () => {
      const ungranted = httpListenerPolicy({ name: 'dry-denied', otelAccessLogRefs: [backendRef({ namespace: 'nowhere' })] });
      const denied = await create(kc(), PATHS.httpListenerPolicies('kgateway'), ungranted, { dryRun: true });
      expect(denied.status).toBe(403);
      expect(denied.body.message).toContain('Service nowhere/otel-collector-collector');
      const allowed = await create(kc(), PATHS.httpListenerPolicies('kgateway'), httpListenerPolicy({ name: 'dry-allowed', otelAccessLogRefs: [backendRef({ namespace: 'kgateway' })] }), { dryRun: true });
      expect(allowed.status, allowed.text).toBe(201);
      for (const name of ['dry-denied', 'dry-allowed']) {
        expect((await kubeRequest(kc(), 'GET', `${PATHS.httpListenerPolicies('kgateway')}/${name}`)).status).toBe(404);
      }
      const dryGateway = await create(kc(), PATHS.gateways('kgateway'), gateway({ name: 'dry-gw' }), { dryRun: true });
      expect(dryGateway.body.spec.infrastructure).toEqual({ parametersRef: OTEL_REF });
      expect((await kubeRequest(kc(), 'GET', `${PATHS.gateways('kgateway')}/dry-gw`)).status).toBe(404);
    });
  });

  describe('ReferenceGrant guard', () => {
    it('warns on an UPDATE that takes away a permission in use, naming the policy, and lets it through', async () => {
      await create(kc(), PATHS.referenceGrants('monitoring'), referenceGrant({ name: 'guarded', to: [{ name: 'guarded-sink' }] }));
      const policy = await create(kc(), PATHS.httpListenerPolicies('kgateway'), httpListenerPolicy({ name: 'guarded', otelAccessLogRefs: [backendRef({ name: 'guarded-sink' })] }));
      expect(policy.status, policy.text).toBe(201);
      // The guard needs the policy in the view; the watch brings it within milliseconds.
      const { value } = await pollUntil('the policy to reach the view', async () => {
        const res = await kubeRequest(kc(), 'PATCH', `${PATHS.referenceGrants('monitoring')}/guarded?dryRun=All`, {
          body: { spec: { to: [{ group: '', kind: 'Service', name: 'other' }] } },
          contentType: 'application/merge-patch+json',
        });
        return res.warnings.length > 0 ? res : undefined;
      });
      expect(value.status, value.text).toBe(200);
      expect(value.warnings).toEqual(['this change to ReferenceGrant monitoring/guarded breaks HTTPListenerPolicy kgateway/guarded']);
    });
  });

  describe('readiness', () => {
    it('every replica is ready once synced, after one initial list of each watched kind', async () => {
      const answers = await server.getEachReplica('/readyz');
      expect(answers.length).toBeGreaterThan(0);
      for (const answer of answers) expect(answer.json()).toEqual({ status: 'ready' });
      for (const resource of ['referencegrants.gateway.networking.k8s.io/v1', 'gatewayclasses.gateway.networking.k8s.io/v1', 'gatewayparameters.gateway.kgateway.dev/v1alpha1']) {
        expect(await server.metricPerReplica('kgateway_admission_watch_lists_total', { resource, reason: 'initial' }), resource).toEqual(answers.map(() => 1));
      }
    });

    onlyOn(target, ['process'], 'it runs a second server process pointed at an API server that is not there; the pods cannot be given one (their readiness before sync is the item-4 EndpointSlice test)')(
      'a server that cannot reach its API server stays not ready and fails closed',
      async () => {
        const orphan = await startUnsyncedServer(cluster.controlPlane!);
        try {
          const readyz = await pollUntil('the server to answer /readyz', async () => {
            const res = await httpsRequest(`${orphan.url}/readyz`, { ca: orphan.caPem }).catch(() => undefined);
            return res;
          });
          expect(readyz.value.status).toBe(503);
          expect(readyz.value.json().reason).toMatch(/discovering API resources/);
          const review = (object: unknown, kind: string, group: string) =>
            JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u', kind: { group, version: 'v1alpha1', kind }, operation: 'CREATE', namespace: 'kgateway', object } });
          const validate = await httpsRequest(`${orphan.url}/validate`, { ca: orphan.caPem, body: review(httpListenerPolicy(), 'HTTPListenerPolicy', 'gateway.kgateway.dev') });
          expect(validate.json().response).toMatchObject({ allowed: false, status: { code: 503 } });
          expect(validate.json().response.status.message).toContain('not ready');
          // /mutate answers HTTP 503 (an unsynced view may not know the GatewayClass):
          // to the API server a failed call, so the webhook's failurePolicy decides.
          const gatewayReview = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'g', kind: { group: 'gateway.networking.k8s.io', version: 'v1', kind: 'Gateway' }, operation: 'CREATE', namespace: 'kgateway', object: gateway({ name: 'unsynced' }) } });
          const mutate = await httpsRequest(`${orphan.url}/mutate`, { ca: orphan.caPem, body: gatewayReview });
          expect(mutate.status).toBe(503);
          expect(mutate.json().response).toMatchObject({ allowed: false, status: { code: 503 } });
          await registerWebhooks(kc(), { url: orphan.url, caPem: orphan.caPem, name: 'kga-unsynced', failurePolicy: 'Fail' });
          try {
            const refused = await create(kc(), PATHS.gateways('kgateway'), gateway({ name: 'unsynced' }), { dryRun: true });
            expect(refused.status, refused.text).toBe(500);
            expect(refused.body.message).toMatch(/failed calling webhook "gateways\.mutate\.kgateway-admission\.kgateway\.dev"/);
          } finally {
            await unregisterWebhooks(kc(), { name: 'kga-unsynced' });
          }
        } finally {
          await orphan.stop();
        }
      },
    );
  });

  describe('failurePolicy when our server is down', () => {
    // On the chart: the Deployment scaled to 0 (the Service has no endpoints).
    it('Fail blocks the write with the API server error; Ignore lets it through', async () => {
      await server.stopAll();
      const blocked = await create(kc(), PATHS.httpListenerPolicies('kgateway'), httpListenerPolicy({ name: 'while-down', otelAccessLogRefs: [backendRef({ namespace: 'monitoring' })] }), { dryRun: true });
      expect(blocked.status).toBe(500);
      expect(blocked.body.message).toMatch(/failed calling webhook "policies\.validate\.kgateway-admission\.kgateway\.dev"/);
      await server.setFailurePolicy('Ignore');
      const passed = await create(kc(), PATHS.httpListenerPolicies('kgateway'), httpListenerPolicy({ name: 'while-down' }), { dryRun: true });
      expect(passed.status, passed.text).toBe(201);
      const gw = await create(kc(), PATHS.gateways('kgateway'), gateway({ name: 'while-down' }), { dryRun: true });
      expect(gw.status, gw.text).toBe(201);
      expect(gw.body.spec.infrastructure).toBeUndefined();
    });
  });
});
