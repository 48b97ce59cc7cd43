import { describe, expect, it } from 'vitest';
import { AdmissionEngine, type ConfirmationOutcome } from '../../../src/admission/admissionEngine.js';
import { freshGrantsView } from '../../../src/cluster/freshGrantsView.js';
import { InMemoryClusterView } from '../../../src/cluster/inMemoryClusterView.js';
import type { ClusterView, Reconsider, Reconsidered } from '../../../src/rules/clusterView.js';
import type { KubeObject } from '../../../src/rules/types.js';
import { parseConfig, ruleSettings } from '../../../src/config/config.js';
import { viewOptionsFor } from '../../../src/cluster/inMemoryClusterView.js';
import { buildRuleSet, type RuleSet } from '../../../src/rules/ruleSet.js';
import { admissionRequest, admissionReview, gateway, httpListenerPolicy, referenceGrant } from '../../support/builders.js';

const ruleSet = buildRuleSet(ruleSettings(parseConfig({})));
const boom = () => {
  throw new Error('boom');
};
const throwing: RuleSet = {
  mutating: ruleSet.mutating.map((rule) => ({ ...rule, decide: boom })),
  validating: ruleSet.validating.map((rule) => ({ ...rule, decide: boom })),
};

describe('AdmissionEngine', () => {
  it('fails closed on /validate while the view has not synced, and says so', async () => {
    const engine = new AdmissionEngine({ ruleSet, view: InMemoryClusterView.fromObjects([referenceGrant()]), isReady: () => false });
    const outcome = await engine.review('validate', admissionReview(admissionRequest(httpListenerPolicy())));
    expect(outcome.decision).toBe('not-ready');
    expect(outcome.body.response).toMatchObject({ allowed: false, status: { code: 503, reason: 'ServiceUnavailable' } });
    expect(outcome.body.response.status!.message).toContain('not ready');
  });

  it('answers /mutate with HTTP 503 while not ready (its GatewayClasses may be missing), so the failurePolicy decides; lets kinds it does not handle through', async () => {
    let ready = false;
    const engine = new AdmissionEngine({ ruleSet, view: InMemoryClusterView.fromObjects([]), isReady: () => ready });
    const mutate = await engine.review('mutate', admissionReview(admissionRequest(gateway())));
    expect(mutate.statusCode).toBe(503);
    expect(mutate.decision).toBe('not-ready');
    expect(mutate.body.response).toMatchObject({ allowed: false, status: { code: 503 } });
    expect(mutate.body.response.patch).toBeUndefined();
    expect((await engine.review('validate', admissionReview(admissionRequest(gateway())))).decision).toBe('allowed');
    const policy = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'a' } };
    expect((await engine.review('mutate', admissionReview(admissionRequest(policy)))).statusCode).toBe(200);
    ready = true;
    const synced = await engine.review('mutate', admissionReview(admissionRequest(gateway())));
    expect([synced.statusCode, synced.decision]).toEqual([200, 'patched']);
  });

  it('denies on /validate and admits unchanged with a warning on /mutate when a rule throws', async () => {
    const engine = new AdmissionEngine({ ruleSet: throwing, view: InMemoryClusterView.fromObjects([]) });
    const validate = await engine.review('validate', admissionReview(admissionRequest(httpListenerPolicy())));
    expect(validate.decision).toBe('error');
    expect(validate.body.response).toMatchObject({ allowed: false, status: { code: 500 } });
    expect(validate.body.response.status!.message).toContain('boom');
    const mutate = await engine.review('mutate', admissionReview(admissionRequest(gateway())));
    expect(mutate.decision).toBe('error');
    expect(mutate.body.response).toMatchObject({ allowed: true });
    expect(mutate.body.response.patch).toBeUndefined();
    expect(mutate.body.response.warnings?.[0]).toContain('boom');
  });

  const denyingPolicy = () => admissionReview(admissionRequest(httpListenerPolicy()));
  /** A reconsider that decides on a view holding `grants`, as a live re-read of them would find. */
  const rereadFinding = (grants: KubeObject[], extra: Partial<Omit<Reconsidered<unknown>, 'result'>> = {}, calls: string[][] = []): Reconsider =>
    async <T,>(asked: readonly string[], decide: (view: ClusterView) => T) => {
      const namespaces = [...asked];
      calls.push(namespaces);
      return { result: decide(freshGrantsView(InMemoryClusterView.fromObjects([]), new Map(namespaces.map((ns) => [ns, grants.filter((g) => g.metadata?.namespace === ns).map((g) => ({ name: g.metadata!.name!, spec: g.spec }))])))), reread: namespaces, unread: [], ...extra };
    };

  it('decides again before denying, with the namespaces the denial rests on, and admits when the API server now allows it', async () => {
    const outcomes: ConfirmationOutcome[] = [];
    const calls: string[][] = [];
    const engine = new AdmissionEngine({ ruleSet, view: InMemoryClusterView.fromObjects([]), reconsider: rereadFinding([referenceGrant()], {}, calls), onConfirmation: (o) => outcomes.push(o) });
    const outcome = await engine.review('validate', denyingPolicy());
    expect(outcome.decision).toBe('allowed');
    expect(calls).toEqual([['monitoring']]);
    expect(outcomes).toEqual(['overturned']);
  });

  it('keeps the denial when the re-read confirms it or fails, and never re-reads for an allow', async () => {
    const outcomes: ConfirmationOutcome[] = [];
    const calls: string[][] = [];
    const confirming = new AdmissionEngine({ ruleSet, view: InMemoryClusterView.fromObjects([]), reconsider: rereadFinding([], {}, calls), onConfirmation: (o) => outcomes.push(o) });
    expect((await confirming.review('validate', denyingPolicy())).decision).toBe('denied');
    const failing = new AdmissionEngine({
      ruleSet,
      view: InMemoryClusterView.fromObjects([]),
      reconsider: async () => {
        throw new Error('apiserver down');
      },
      onConfirmation: (o) => outcomes.push(o),
    });
    const failed = await failing.review('validate', denyingPolicy());
    expect(failed.decision).toBe('denied');
    expect(failed.body.response.status!.code).toBe(403);
    expect(outcomes).toEqual(['confirmed', 'failed']);
    const granted = new AdmissionEngine({ ruleSet, view: InMemoryClusterView.fromObjects([referenceGrant()]), reconsider: rereadFinding([], {}, calls) });
    await granted.review('validate', denyingPolicy());
    expect(calls).toHaveLength(1);
  });

  it('says in the denial which namespaces were not read again, and why', async () => {
    const outcomes: ConfirmationOutcome[] = [];
    const unread = [
      ...Array.from({ length: 12 }, (_, i) => ({ namespace: `ns${i}`, reason: 'request-limit' as const })),
      { namespace: 'late', reason: 'rate-limit' as const },
      { namespace: 'broken', reason: 'failed' as const },
    ];
    const engine = new AdmissionEngine({
      ruleSet,
      view: InMemoryClusterView.fromObjects([]),
      reconsider: rereadFinding([], { unread, error: new Error('GET …: 500') }),
      onConfirmation: (o) => outcomes.push(o),
    });
    const outcome = await engine.review('validate', denyingPolicy());
    expect(outcome.decision).toBe('denied');
    const message = outcome.body.response.status!.message!;
    expect(message).toContain('Service monitoring/otel-collector-collector');
    expect(message).toContain(
      'The re-check was limited: the ReferenceGrants of ns0, ns1, ns2, ns3, ns4, ns5, ns6, ns7, ns8, ns9 and 2 more (at most 8 namespaces are re-read per request); late (the re-reads of this server are rate-limited and none was left); broken (the read failed) were not read again',
    );
    expect(outcomes).toEqual(['failed']);
    const rateLimited = new AdmissionEngine({
      ruleSet,
      view: InMemoryClusterView.fromObjects([]),
      reconsider: async <T,>(_namespaces: readonly string[], decide: (view: ClusterView) => T) => ({ result: decide(InMemoryClusterView.fromObjects([])), reread: [], unread: [{ namespace: 'monitoring', reason: 'rate-limit' as const }] }),
      onConfirmation: (o) => outcomes.push(o),
    });
    const skipped = await rateLimited.review('validate', denyingPolicy());
    expect(skipped.body.response.status!.message).toContain('The re-check was limited: the ReferenceGrants of monitoring (the re-reads of this server are rate-limited and none was left)');
    expect(outcomes).toEqual(['failed', 'skipped']);
  });

  it('leaves a denial that rests on no missing grant alone, and counts no confirmation for it', async () => {
    const outcomes: ConfirmationOutcome[] = [];
    const calls: string[][] = [];
    const engine = new AdmissionEngine({ ruleSet, view: InMemoryClusterView.fromObjects([]), reconsider: async <T,>(namespaces: readonly string[], decide: (view: ClusterView) => T) => {
      calls.push([...namespaces]);
      return { result: decide(InMemoryClusterView.fromObjects([])), reread: [], unread: [] };
    }, onConfirmation: (o) => outcomes.push(o) });
    const malformed = httpListenerPolicy({ otelAccessLogRefs: [{ name: 'c', namespace: 'Not_A_Namespace', port: 4317 }] });
    const outcome = await engine.review('validate', admissionReview(admissionRequest(malformed)));
    expect(outcome.decision).toBe('denied');
    expect(calls).toEqual([]);
    expect(outcomes).toEqual([]);
  });

  describe('in warn mode', () => {
    const warnRules = buildRuleSet(ruleSettings(parseConfig({ validation: { enforcement: 'warn' } })));

    it('admits an ungranted ref as decision "warned", with the ref in the warnings and the reason, and re-reads nothing', async () => {
      let rereads = 0;
      const engine = new AdmissionEngine({
        ruleSet: warnRules,
        view: InMemoryClusterView.fromObjects([]),
        reconsider: async <T,>(_namespaces: readonly string[], decide: (view: ClusterView) => T) => {
          rereads++;
          return { result: decide(InMemoryClusterView.fromObjects([])), reread: [], unread: [] };
        },
      });
      const outcome = await engine.review('validate', admissionReview(admissionRequest(httpListenerPolicy())));
      expect(outcome.decision).toBe('warned');
      expect(outcome.body.response).toEqual({
        uid: outcome.body.response.uid,
        allowed: true,
        warnings: ['admitted in warn mode: no ReferenceGrant allows Service monitoring/otel-collector-collector'],
      });
      expect(outcome.reason).toBe('no ReferenceGrant allows spec.accessLog[0].openTelemetry.grpcService.backendRef -> Service monitoring/otel-collector-collector');
      // A warning that a lagging view makes stale breaks nothing: no live re-read for it.
      expect(rereads).toBe(0);
    });

    it('still fails closed while not ready and when a rule throws', async () => {
      const notReady = new AdmissionEngine({ ruleSet: warnRules, view: InMemoryClusterView.fromObjects([]), isReady: () => false });
      const waiting = await notReady.review('validate', admissionReview(admissionRequest(httpListenerPolicy())));
      expect(waiting.decision).toBe('not-ready');
      expect(waiting.body.response.allowed).toBe(false);
      expect(waiting.reason).toContain('not ready');
      const throwingWarn: RuleSet = {
        ...warnRules,
        validating: warnRules.validating.map((rule) => (rule.name === 'cross-namespace-backend-refs' ? { ...rule, decide: () => { throw new Error('boom'); } } : rule)),
      };
      const failing = new AdmissionEngine({ ruleSet: throwingWarn, view: InMemoryClusterView.fromObjects([]) });
      const failed = await failing.review('validate', admissionReview(admissionRequest(httpListenerPolicy())));
      expect(failed.decision).toBe('error');
      expect(failed.body.response.allowed).toBe(false);
      expect(failed.reason).toContain('boom');
    });
  });

  it('gives the reason of a denial as its refs, and none for a plain allow', async () => {
    const engine = new AdmissionEngine({ ruleSet, view: InMemoryClusterView.fromObjects([]) });
    const denied = await engine.review('validate', admissionReview(admissionRequest(httpListenerPolicy())));
    expect(denied.reason).toBe('no ReferenceGrant allows spec.accessLog[0].openTelemetry.grpcService.backendRef -> Service monitoring/otel-collector-collector');
    const allowed = await engine.review('validate', admissionReview(admissionRequest(gateway())));
    expect(allowed.reason).toBeUndefined();
    const tracking = new AdmissionEngine({ ruleSet, view: InMemoryClusterView.fromObjects([], viewOptionsFor(ruleSettings(parseConfig({})))) });
    const warnedGateway = await tracking.review('mutate', admissionReview(admissionRequest(gateway())));
    // Admitted untouched: the warning is the reason.
    expect(warnedGateway.decision).toBe('allowed');
    expect(warnedGateway.reason).toBe('parametersRef not added: create GatewayParameters kgateway/agentgateway-otel, then re-apply the Gateway');
  });
});
