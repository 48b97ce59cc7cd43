import { describe, expect, it } from 'vitest';
import { AdmissionEngine, type ConfirmationOutcome } from '../../../src/admission/admissionEngine.js';
import { InMemoryClusterView } from '../../../src/cluster/inMemoryClusterView.js';
import { parseConfig, ruleSettings } from '../../../src/config/config.js';
import { buildRuleSet, type RuleSet } from '../../../src/rules/ruleSet.js';
import { admissionRequest, admissionReview, gateway, httpListenerPolicy, referenceGrant } from '../../support/builders.js';

const ruleSet = buildRuleSet(ruleSettings(parseConfig({})));
const throwing: RuleSet = {
  mutating: [{ ...ruleSet.mutating[0]!, decide: () => { throw new Error('boom'); } }],
  validating: [{ ...ruleSet.validating[0]!, decide: () => { throw new Error('boom'); } }],
};

describe('AdmissionEngine', () => {
  it('fails closed on /validate while the view has not synced, and says so', async () => {
    const engine = new AdmissionEngine({ ruleSet, view: InMemoryClusterView.fromObjects([referenceGrant()]), isReady: () => false });
    const outcome = await engine.review('validate', admissionReview(admissionRequest(httpListenerPolicy())));
    expect(outcome.decision).toBe('not-ready');
    expect(outcome.body.response).toMatchObject({ allowed: false, status: { code: 503, reason: 'ServiceUnavailable' } });
    expect(outcome.body.response.status!.message).toContain('not ready');
  });

  it('still mutates by class name while not ready, and lets kinds it does not validate through', async () => {
    const engine = new AdmissionEngine({ ruleSet, view: InMemoryClusterView.fromObjects([]), isReady: () => false });
    expect((await engine.review('mutate', admissionReview(admissionRequest(gateway())))).decision).toBe('patched');
    expect((await engine.review('validate', admissionReview(admissionRequest(gateway())))).decision).toBe('allowed');
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

  it('re-reads the grants of the target namespace before denying, and admits when they now allow it', async () => {
    const view = InMemoryClusterView.fromObjects([]);
    const outcomes: ConfirmationOutcome[] = [];
    const reread: string[][] = [];
    const engine = new AdmissionEngine({
      ruleSet,
      view,
      refreshReferenceGrants: async (namespaces) => {
        reread.push(namespaces);
        // What a live list would find: the grant created in the same kubectl apply.
        view.referenceGrants.replaceNamespace('monitoring', [{ name: 'g', spec: referenceGrant().spec }]);
      },
      onConfirmation: (o) => outcomes.push(o),
    });
    const outcome = await engine.review('validate', admissionReview(admissionRequest(httpListenerPolicy())));
    expect(outcome.decision).toBe('allowed');
    expect(reread).toEqual([['monitoring']]);
    expect(outcomes).toEqual(['overturned']);
  });

  it('keeps the denial when the re-read confirms it or fails, and never re-reads for an allow', async () => {
    const outcomes: ConfirmationOutcome[] = [];
    let calls = 0;
    const confirming = new AdmissionEngine({ ruleSet, view: InMemoryClusterView.fromObjects([]), refreshReferenceGrants: async () => void calls++, onConfirmation: (o) => outcomes.push(o) });
    expect((await confirming.review('validate', admissionReview(admissionRequest(httpListenerPolicy())))).decision).toBe('denied');
    const failing = new AdmissionEngine({
      ruleSet,
      view: InMemoryClusterView.fromObjects([]),
      refreshReferenceGrants: async () => {
        throw new Error('apiserver down');
      },
      onConfirmation: (o) => outcomes.push(o),
    });
    const failed = await failing.review('validate', admissionReview(admissionRequest(httpListenerPolicy())));
    expect(failed.decision).toBe('denied');
    expect(failed.body.response.status!.code).toBe(403);
    expect(outcomes).toEqual(['confirmed', 'failed']);
    const granted = new AdmissionEngine({ ruleSet, view: InMemoryClusterView.fromObjects([referenceGrant()]), refreshReferenceGrants: async () => void calls++ });
    await granted.review('validate', admissionReview(admissionRequest(httpListenerPolicy())));
    expect(calls).toBe(1);
  });
});
