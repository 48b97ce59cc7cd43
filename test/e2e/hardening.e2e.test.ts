// Faults and security through a real kube-apiserver: the API server
// authenticates to the webhook with a client certificate (--client-ca), a
// stalled webhook is not let through, and a kube-apiserver killed and started
// again leaves decisions flowing from the last synced state and the watch
// resumed, with a grant created meanwhile (through a second API server) seen.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendRef, gateway, httpListenerPolicy, referenceGrant } from '../support/builders.js';
import {
  killKubeApiserver,
  kubeRequest,
  registerWebhooks,
  requireControlPlane,
  startControlPlane,
  startKubeApiserver,
  startWebhookServer,
  unregisterWebhooks,
  type ControlPlane,
  type WebhookServer,
} from '../../harness/index.ts';
import { requestFor } from '../unit/hardening/arbitraries.js';
import { makeCa, makeLeaf, post, type Pem } from '../unit/hardening/support.js';
import { create, ensureNamespaces, metricValue, PATHS, pollUntil } from './support.js';

const skip = await requireControlPlane();

const SECRET_ENV = 'env-value-e2e-51f0c3a9';
const SECRET_ANNOTATION = 'annotation-e2e-77aa11bb';
const log = (text: string) => process.stderr.write(`[hardening e2e] ${text}\n`);

describe.skipIf(skip)('hardening through a real kube-apiserver', () => {
  let cp: ControlPlane;
  let server: WebhookServer;
  let clientCa: Pem;
  let apiServerClient: Pem;
  let dir: string;
  const kc = () => cp.kubeConfig;

  /** /validate called directly, as the API server would (with its client certificate). */
  const validateDirect = async (name: string, service: string) => {
    const review = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: requestFor(httpListenerPolicy({ name, otelAccessLogRefs: [backendRef({ name: service, namespace: 'monitoring' })] }), 'CREATE', `direct-${name}`) };
    const answer = await post(`${server.url}/validate`, JSON.stringify(review), { ca: server.caPem, cert: apiServerClient.certPem, key: apiServerClient.keyPem });
    return JSON.parse(answer.text).response as { allowed: boolean; status?: { message: string } };
  };
  const confirmations = (outcome?: string) => metricValue(server.metricsUrl, 'kgateway_admission_denial_confirmations_total', outcome ? { outcome } : {});
  /** Allowed from the cached view alone: no live re-read of grants was needed. */
  const allowedFromCache = async (name: string, service: string) => {
    const before = await confirmations();
    const response = await validateDirect(name, service);
    return response.allowed && (await confirmations()) === before ? true : undefined;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kga-hardening-e2e-'));
    clientCa = await makeCa('kga-e2e-apiserver-client-ca');
    apiServerClient = await makeLeaf(clientCa, { commonName: 'kube-apiserver-webhook-client', usage: 'client' });
    await writeFile(join(dir, 'client-ca.crt'), clientCa.certPem);
    // The API server's credentials for calling webhooks: '*' matches every webhook host.
    await writeFile(
      join(dir, 'webhook-kubeconfig.yaml'),
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        users: [{ name: '*', user: { 'client-certificate-data': Buffer.from(apiServerClient.certPem).toString('base64'), 'client-key-data': Buffer.from(apiServerClient.keyPem).toString('base64') } }],
      }),
    );
    const webhookConfiguration = { apiVersion: 'apiserver.config.k8s.io/v1', kind: 'WebhookAdmissionConfiguration', kubeConfigFile: join(dir, 'webhook-kubeconfig.yaml') };
    await writeFile(
      join(dir, 'admission.yaml'),
      JSON.stringify({
        apiVersion: 'apiserver.config.k8s.io/v1',
        kind: 'AdmissionConfiguration',
        plugins: [
          { name: 'ValidatingAdmissionWebhook', configuration: webhookConfiguration },
          { name: 'MutatingAdmissionWebhook', configuration: webhookConfiguration },
        ],
      }),
    );
    await writeFile(join(dir, 'config.yaml'), 'logLevel: debug\n');
    cp = await startControlPlane({ extraApiServerArgs: [`--admission-control-config-file=${join(dir, 'admission.yaml')}`] });
    await ensureNamespaces(kc(), 'kgateway', 'monitoring', 'tracing');
    // A GatewayParameters with values that must never reach a log line; the server watches this kind.
    const params = {
      apiVersion: 'gateway.kgateway.dev/v1alpha1',
      kind: 'GatewayParameters',
      metadata: { name: 'agentgateway-otel', namespace: 'kgateway', annotations: { note: SECRET_ANNOTATION } },
      spec: { kube: { agentgateway: { enabled: true, env: [{ name: 'API_KEY', value: SECRET_ENV }] } } },
    };
    expect((await create(kc(), '/apis/gateway.kgateway.dev/v1alpha1/namespaces/kgateway/gatewayparameters', params)).status).toBe(201);
    server = await startWebhookServer({
      kubeconfigPath: cp.kubeconfigPath,
      extraArgs: ['--profile', 'kgateway-v2.1', '--client-ca', join(dir, 'client-ca.crt'), '--config', join(dir, 'config.yaml')],
    });
    // timeoutSeconds 2: the stall test waits that long per write.
    await registerWebhooks(kc(), { url: server.url, caPem: server.caPem, failurePolicy: 'Fail', timeoutSeconds: 2 });
  });

  afterAll(async () => {
    await server?.stop();
    await cp?.stop();
  });

  describe('client-certificate authentication (--client-ca)', () => {
    it('admits the API server, which presents the certificate the client CA signed', async () => {
      const gw = await create(kc(), PATHS.gateways('kgateway'), gateway({ name: 'via-client-cert' }));
      expect(gw.status, gw.text).toBe(201);
      expect(gw.body.spec.infrastructure.parametersRef.name).toBe('agentgateway-otel');
      const denied = await create(kc(), PATHS.httpListenerPolicies('kgateway'), httpListenerPolicy({ name: 'via-client-cert' }));
      expect(denied.status).toBe(403);
      expect(denied.body.message).toContain('no ReferenceGrant allows');
      // Called without a certificate, the same server refuses.
      const anonymous = await post(`${server.url}/validate`, JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: requestFor(httpListenerPolicy(), 'CREATE', 'anon') }), { ca: server.caPem });
      expect(anonymous.status).toBe(401);
    });

    it('refuses the API server when its certificate is not from the configured client CA, and failurePolicy Fail rejects the write', async () => {
      const strangerCa = await makeCa('kga-e2e-stranger-ca');
      await writeFile(join(dir, 'stranger-ca.crt'), strangerCa.certPem);
      const stranger = await startWebhookServer({ kubeconfigPath: cp.kubeconfigPath, extraArgs: ['--profile', 'kgateway-v2.1', '--client-ca', join(dir, 'stranger-ca.crt')] });
      try {
        await ensureNamespaces(kc(), 'stranger');
        const labelled = await kubeRequest(kc(), 'PATCH', `${PATHS.namespaces}/stranger`, { body: { metadata: { labels: { 'kga-test/stranger': 'true' } } }, contentType: 'application/merge-patch+json' });
        expect(labelled.status).toBe(200);
        await registerWebhooks(kc(), { name: 'kga-stranger', url: stranger.url, caPem: stranger.caPem, failurePolicy: 'Fail', timeoutSeconds: 2, namespaceSelector: { matchLabels: { 'kga-test/stranger': 'true' } } });
        const refused = await create(kc(), PATHS.gateways('stranger'), gateway({ name: 'refused', namespace: 'stranger' }));
        expect(refused.status, refused.text).toBeGreaterThanOrEqual(400);
        expect(refused.text).toMatch(/failed calling webhook|401|Unauthorized/);
        expect((await kubeRequest(kc(), 'GET', `${PATHS.gateways('stranger')}/refused`)).status).toBe(404);
        expect(stranger.logs()).toMatch(/"statusCode":401,"reason":"client certificate refused/);
        await unregisterWebhooks(kc(), { name: 'kga-stranger' });
        const accepted = await create(kc(), PATHS.gateways('stranger'), gateway({ name: 'accepted', namespace: 'stranger' }));
        expect(accepted.status, accepted.text).toBe(201);
      } finally {
        await stranger.stop();
      }
    });
  });

  describe('a stalled webhook', () => {
    it('is not let through: with failurePolicy Fail the API server rejects the write after timeoutSeconds, and nothing is stored', async () => {
      expect((await create(kc(), PATHS.referenceGrants('monitoring'), referenceGrant({ name: 'stall-grant', to: [{ name: 'stall' }] }))).status).toBe(201);
      await pollUntil('the stall grant to reach the view', () => allowedFromCache('stall-probe', 'stall'));
      process.kill(server.pid!, 'SIGSTOP');
      const timings: number[] = [];
      try {
        for (const [path, object, name] of [
          [PATHS.gateways('kgateway'), gateway({ name: 'during-stall' }), 'during-stall'],
          // A policy that would be allowed: a stalled webhook must not turn into an allow either.
          [PATHS.httpListenerPolicies('kgateway'), httpListenerPolicy({ name: 'during-stall', otelAccessLogRefs: [backendRef({ name: 'stall', namespace: 'monitoring' })] }), 'during-stall'],
        ] as const) {
          const started = performance.now();
          const res = await create(kc(), path, object);
          timings.push(performance.now() - started);
          expect(res.status, res.text).toBeGreaterThanOrEqual(500);
          expect(res.text).toMatch(/failed calling webhook/);
          expect(res.text).toMatch(/deadline exceeded|timeout|Timeout/);
          expect((await kubeRequest(kc(), 'GET', `${path}/${name}`)).status).toBe(404);
        }
      } finally {
        process.kill(server.pid!, 'SIGCONT');
      }
      log(`stalled webhook (SIGSTOP, timeoutSeconds 2): writes rejected after ${timings.map((t) => `${(t / 1000).toFixed(1)} s`).join(', ')}`);
      for (const t of timings) expect(t).toBeGreaterThan(1_900);
      const after = await create(kc(), PATHS.gateways('kgateway'), gateway({ name: 'after-stall' }));
      expect(after.status, after.text).toBe(201);
      expect(after.body.spec.infrastructure.parametersRef.name).toBe('agentgateway-otel');
    });
  });

  describe('kube-apiserver killed and started again', () => {
    it('keeps deciding from the last synced state, fails closed on what it cannot confirm, and resumes the watch, seeing a grant made during the outage', async () => {
      expect((await create(kc(), PATHS.referenceGrants('monitoring'), referenceGrant({ name: 'outage-before', to: [{ name: 'before' }] }))).status).toBe(201);
      await pollUntil('the first grant to reach the view', () => allowedFromCache('before-probe', 'before'));
      const errorsBefore = await metricValue(server.metricsUrl, 'kgateway_admission_watch_errors_total');
      const grantWatch = { resource: 'referencegrants.gateway.networking.k8s.io/v1' };
      const grantErrorsBefore = await metricValue(server.metricsUrl, 'kgateway_admission_watch_errors_total', grantWatch);
      const grantRelistsBefore = await metricValue(server.metricsUrl, 'kgateway_admission_watch_lists_total', { ...grantWatch, reason: 'relist' });
      const failedBefore = await confirmations('failed');

      // A second API server on the same etcd (an HA peer), then the one our server watches goes down.
      const peer = await startKubeApiserver(cp, { newPort: true });
      let restarted = false;
      try {
        await killKubeApiserver(cp);
        const downAt = performance.now();

        // Our server: still ready, still deciding from what it had synced.
        const readyz = await fetchStatus(`${server.url}/readyz`, server.caPem);
        expect(readyz).toBe(200);
        expect((await validateDirect('before-down', 'before')).allowed).toBe(true);
        const unconfirmed = await validateDirect('during-down', 'during');
        expect(unconfirmed.allowed).toBe(false);

        // Writes through the peer reach our webhook, which answers from the cache.
        const viaPeer = await create(peer.kubeConfig, PATHS.httpListenerPolicies('kgateway'), httpListenerPolicy({ name: 'outage-allowed', otelAccessLogRefs: [backendRef({ name: 'before', namespace: 'monitoring' })] }));
        expect(viaPeer.status, viaPeer.text).toBe(201);
        const grant = await create(peer.kubeConfig, PATHS.referenceGrants('monitoring'), referenceGrant({ name: 'outage-during', to: [{ name: 'during' }] }));
        expect(grant.status, grant.text).toBe(201);
        // The new grant is not in the view and cannot be re-read: denied, not guessed.
        const failClosed = await create(peer.kubeConfig, PATHS.httpListenerPolicies('kgateway'), httpListenerPolicy({ name: 'outage-denied', otelAccessLogRefs: [backendRef({ name: 'during', namespace: 'monitoring' })] }));
        expect(failClosed.status, failClosed.text).toBe(403);
        expect(await confirmations('failed')).toBeGreaterThan(failedBefore);
        // Let the watches fail and back off a few times, as in a real outage.
        await pollUntil('several failed restarts of the ReferenceGrant watch', async () => ((await metricValue(server.metricsUrl, 'kgateway_admission_watch_errors_total', grantWatch)) >= grantErrorsBefore + 4 ? true : undefined), 30_000, 200);
        expect(await fetchStatus(`${server.url}/readyz`, server.caPem)).toBe(200);
        expect((await validateDirect('still-down', 'before')).allowed).toBe(true);

        await startKubeApiserver(cp);
        restarted = true;
        const upAt = performance.now();
        // The watch resumes with a fresh list once its backoff ends. Only the
        // metric is polled here: a denied /validate probe would re-read the
        // grants itself and hide whether the watch came back.
        const resumed = await pollUntil(
          'the ReferenceGrant watch to re-list',
          async () => ((await metricValue(server.metricsUrl, 'kgateway_admission_watch_lists_total', { ...grantWatch, reason: 'relist' })) > grantRelistsBefore ? true : undefined),
          60_000,
          50,
        );
        expect(await allowedFromCache('during-probe', 'during')).toBe(true);
        // And the watch itself delivers what comes next (lag is tens of ms; 1 s is ample).
        expect((await create(kc(), PATHS.referenceGrants('monitoring'), referenceGrant({ name: 'outage-after', to: [{ name: 'after' }] }))).status).toBe(201);
        await new Promise((r) => setTimeout(r, 1_000));
        expect(await allowedFromCache('after-probe', 'after')).toBe(true);
        log(
          `kube-apiserver down ${((upAt - downAt) / 1000).toFixed(1)} s (${(await metricValue(server.metricsUrl, 'kgateway_admission_watch_errors_total', grantWatch)) - grantErrorsBefore} failed ReferenceGrant watch restarts); ` +
            `the watch re-listed ${(resumed.ms / 1000).toFixed(1)} s after it was back, with the grant created meanwhile`,
        );
        const afterRestart = await create(kc(), PATHS.httpListenerPolicies('kgateway'), httpListenerPolicy({ name: 'outage-after', otelAccessLogRefs: [backendRef({ name: 'during', namespace: 'monitoring' })] }));
        expect(afterRestart.status, afterRestart.text).toBe(201);
        expect(await metricValue(server.metricsUrl, 'kgateway_admission_watch_errors_total')).toBeGreaterThan(errorsBefore);
      } finally {
        // The tests after this one need the API server back.
        if (!restarted) await startKubeApiserver(cp);
        await peer.stop();
      }
    });
  });

  describe('whatever a request carries', () => {
    it('a CREATE that sets metadata.deletionTimestamp is still checked (the API server clears it before validation)', async () => {
      const policy = httpListenerPolicy({ name: 'pretends-deleted', otelAccessLogRefs: [backendRef({ name: 'nope', namespace: 'tracing' })] });
      policy.metadata = { ...policy.metadata, deletionTimestamp: '2026-01-01T00:00:00Z', finalizers: ['example.com/hold'] };
      const res = await create(kc(), PATHS.httpListenerPolicies('kgateway'), policy);
      expect(res.status, res.text).toBe(403);
      expect(res.body.message).toContain('- spec.accessLog[0].openTelemetry.grpcService.backendRef: Service tracing/nope');
    });

    it('the server logs, at debug level, through every test above, hold no GatewayParameters env value or annotation', () => {
      const logs = server.logs();
      expect(logs).toContain('admission decision');
      expect(logs).toContain('watch failed');
      expect(logs).not.toContain(SECRET_ENV);
      expect(logs).not.toContain(SECRET_ANNOTATION);
    });
  });
});

function fetchStatus(url: string, ca: string): Promise<number> {
  return import('node:https').then(
    ({ get }) =>
      new Promise<number>((resolve, reject) => {
        get(url, { ca, agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        }).on('error', reject);
      }),
  );
}
