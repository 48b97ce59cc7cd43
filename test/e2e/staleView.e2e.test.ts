// A live view that has lost the API server: after staleAfterMs without a
// successful list or watch it reports not ready, and /validate and /mutate
// refuse to decide on it, instead of serving a stale view forever; when the
// API server is back, the watches re-list and it is ready again.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeApi } from '../../src/kube/kubeApi.js';
import { AdmissionEngine } from '../../src/admission/admissionEngine.js';
import { LiveClusterSource } from '../../src/cluster/liveClusterSource.js';
import { parseConfig, ruleSettings } from '../../src/config/config.js';
import { buildRuleSet } from '../../src/rules/ruleSet.js';
import { admissionRequest, admissionReview, gateway, httpListenerPolicy } from '../support/builders.js';
import { killKubeApiserver, requireControlPlane, startControlPlane, startKubeApiserver, type ControlPlane } from '../../harness/index.ts';
import { create, ensureNamespaces, pollUntil, viewSettings } from './support.js';

const skip = await requireControlPlane();
const STALE_AFTER_MS = 4_000;

describe.skipIf(skip)('a stale live view against a real kube-apiserver', () => {
  let cp: ControlPlane;
  let source: LiveClusterSource;

  beforeAll(async () => {
    cp = await startControlPlane();
    // The parameters object the mutation points at (a ref to a missing one is never added).
    await ensureNamespaces(cp.kubeConfig, 'kgateway');
    const params = { apiVersion: 'gateway.kgateway.dev/v1alpha1', kind: 'GatewayParameters', metadata: { name: 'agentgateway-otel', namespace: 'kgateway' }, spec: { kube: {} } };
    const created = await create(cp.kubeConfig, '/apis/gateway.kgateway.dev/v1alpha1/namespaces/kgateway/gatewayparameters', params);
    expect(created.status, created.text).toBe(201);
    source = new LiveClusterSource({
      api: new KubeApi(cp.kubeConfig),
      logger: pino({ level: 'silent' }),
      settings: viewSettings(),
      staleAfterMs: STALE_AFTER_MS,
      // The API server ends each watch after 1-2 s, so a healthy quiet watch is renewed well within STALE_AFTER_MS.
      watchTimeoutSeconds: { min: 1, spread: 1 },
    });
    await source.start();
    await pollUntil('sync', async () => (source.notReadyReason() === undefined ? true : undefined), 30_000);
  });
  afterAll(async () => {
    await source?.stop();
    await cp?.stop();
  });

  it('stays ready while the watches are healthy, goes not ready once they have failed for staleAfter, and is ready again after a re-list', async () => {
    const engine = new AdmissionEngine({ ruleSet: buildRuleSet(ruleSettings(parseConfig({}))), view: source.view, isReady: () => source.notReadyReason() === undefined });
    // Healthy and quiet for longer than staleAfter: still ready.
    const quietUntil = Date.now() + STALE_AFTER_MS * 2;
    while (Date.now() < quietUntil) {
      expect(source.notReadyReason()).toBeUndefined();
      await new Promise((r) => setTimeout(r, 250));
    }

    await killKubeApiserver(cp);
    let restarted = false;
    try {
      const downAt = performance.now();
      const { value: reason } = await pollUntil('the view to be reported stale', async () => source.notReadyReason(), STALE_AFTER_MS * 4, 100);
      const staleAfter = performance.now() - downAt;
      // Each resource goes stale on its own clock: any of them first.
      expect(reason).toMatch(/no successful list or watch of .*(referencegrants|gatewayclasses|gatewayparameters).* for more than 4 s: the view may be stale/);
      expect(staleAfter).toBeGreaterThanOrEqual(STALE_AFTER_MS - 2_500);
      const validate = await engine.review('validate', admissionReview(admissionRequest(httpListenerPolicy())));
      expect(validate.decision).toBe('not-ready');
      expect(validate.body.response).toMatchObject({ allowed: false, status: { code: 503 } });
      const mutate = await engine.review('mutate', admissionReview(admissionRequest(gateway())));
      expect(mutate.statusCode).toBe(503);

      await startKubeApiserver(cp);
      restarted = true;
      await pollUntil('ready again after the re-list', async () => (source.notReadyReason() === undefined ? true : undefined), 60_000, 100);
      expect((await engine.review('mutate', admissionReview(admissionRequest(gateway())))).decision).toBe('patched');
    } finally {
      if (!restarted) await startKubeApiserver(cp);
    }
  });
});
