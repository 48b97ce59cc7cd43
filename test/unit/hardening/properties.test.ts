// Property-based tests (fast-check) of the rules and the AdmissionReview
// engine, in process: arbitrary and mutated input never makes them throw,
// every answer is well formed, and a policy with an ungranted
// cross-namespace backendRef is never allowed, whatever else it contains.
// Case counts are summed into docs/reliability.md's figures; each run draws new seeds
// (a failure prints the seed and the shrunk counterexample).
import fc from 'fast-check';
import fastJsonPatch from 'fast-json-patch';
import { afterAll, describe, expect, it } from 'vitest';
import { AdmissionEngine } from '../../../src/admission/admissionEngine.js';
import { InMemoryClusterView } from '../../../src/cluster/inMemoryClusterView.js';
import { parseConfig, ruleSettings } from '../../../src/config/config.js';
import { viewOptionsFor } from '../../../src/cluster/inMemoryClusterView.js';
import { buildRuleSet, decide } from '../../../src/rules/ruleSet.js';
import type { KubeObject, Verdict } from '../../../src/rules/types.js';
import {
  arbitraryBodyArb,
  grantedPolicyCaseArb,
  grantObject,
  isRecord,
  KGATEWAY,
  policyCaseArb,
  ruleRequestArb,
  SCAN_KIND,
  viewObjectsArb,
  describeTarget,
} from './arbitraries.js';
import { checkReviewAnswer } from './wellFormed.js';

const settings = ruleSettings(parseConfig({ validation: { scanKinds: [SCAN_KIND] } }));
const ruleSet = buildRuleSet(settings);
const viewOf = (objects: KubeObject[]) => InMemoryClusterView.fromObjects(objects, viewOptionsFor(settings));

let cases = 0;
const runs = (numRuns: number) => {
  cases += numRuns;
  return { numRuns };
};
afterAll(() => {
  process.stderr.write(`[hardening] property cases in process (rules and engine): ${cases}\n`);
});

function expectWellFormedVerdict(verdict: Verdict): void {
  expect(typeof verdict.allowed).toBe('boolean');
  expect(Array.isArray(verdict.patch)).toBe(true);
  expect(verdict.warnings.every((w) => typeof w === 'string')).toBe(true);
  if (!verdict.allowed) {
    expect(typeof verdict.message).toBe('string');
    expect(verdict.message!.length).toBeGreaterThan(0);
    expect(verdict.patch).toEqual([]);
  }
}

describe('rules, on arbitrary and mutated requests', () => {
  it('never throw, and every verdict is well formed; a mutation patch applies cleanly and only adds the parametersRef', () => {
    fc.assert(
      fc.property(ruleRequestArb, viewObjectsArb, (request, objects) => {
        const view = viewOf(objects);
        const validation = decide(ruleSet.validating, request, view);
        expectWellFormedVerdict(validation);
        const mutation = decide(ruleSet.mutating, request, view);
        expectWellFormedVerdict(mutation);
        expect(mutation.allowed).toBe(true);
        if (mutation.patch.length === 0) return;
        const original = request.object as KubeObject;
        expect(fastJsonPatch.validate(mutation.patch as fastJsonPatch.Operation[], original)).toBeUndefined();
        const patched = fastJsonPatch.applyPatch(structuredClone(original), mutation.patch as fastJsonPatch.Operation[]).newDocument as KubeObject;
        const spec = patched.spec as Record<string, unknown>;
        const infrastructure = spec.infrastructure as Record<string, unknown>;
        expect(infrastructure.parametersRef).toEqual(settings.parametersRef);
        // Nothing else changed: the rest of spec, and of infrastructure when it was an object.
        const before = original.spec as Record<string, unknown>;
        for (const key of Object.keys(before)) if (key !== 'infrastructure') expect(spec[key]).toEqual(before[key]);
        if (isRecord(before.infrastructure)) {
          expect(before.infrastructure.parametersRef ?? null).toBeNull();
          for (const key of Object.keys(before.infrastructure)) if (key !== 'parametersRef') expect(infrastructure[key]).toEqual(before.infrastructure[key]);
        }
        const { spec: _a, ...restBefore } = original;
        const { spec: _b, ...restAfter } = patched;
        expect(restAfter).toEqual(restBefore);
      }),
      runs(3_000),
    );
  });
});

describe('a policy with an ungranted cross-namespace ref', () => {
  it('is never allowed, whatever else it contains (every table kind and scanKinds; random grants, noise, other refs)', () => {
    let ungranted = 0;
    fc.assert(
      fc.property(policyCaseArb(), (c) => {
        const view = viewOf(c.grants.map((g) => grantObject(g)));
        const verdict = decide(ruleSet.validating, c.request, view);
        expectWellFormedVerdict(verdict);
        const line = `- ${c.probe.location}: ${describeTarget(c.probe.target)}`;
        if (!c.probe.granted) {
          ungranted++;
          expect(verdict.allowed, line).toBe(false);
          expect(verdict.message).toContain(line);
          expect(verdict.message).toContain(`namespace: ${c.probe.target.namespace}`);
        } else if (!verdict.allowed) {
          // A granted ref is never named as missing.
          expect(verdict.message).not.toContain(line);
        }
      }),
      runs(4_000),
    );
    // The generator is meant to produce mostly ungranted probes; check it does.
    expect(ungranted).toBeGreaterThan(2_000);
    // Each denial renders one suggested grant per missing target as YAML: ~25 s on 2 busy cores.
  }, 60_000);

  it('is allowed when every cross-namespace ref has its grant (so the property above is not met by denying everything)', () => {
    fc.assert(
      fc.property(grantedPolicyCaseArb(), ({ request, grants }) => {
        const verdict = decide(ruleSet.validating, request, viewOf(grants.map((g) => grantObject(g, 'v1'))));
        expect(verdict.allowed, verdict.message).toBe(true);
      }),
      runs(1_000),
    );
  });

  it('is never allowed through the engine either, after a JSON round trip of the whole review', async () => {
    await fc.assert(
      fc.asyncProperty(policyCaseArb(), fc.constantFrom('validate' as const), async (c, endpoint) => {
        fc.pre(!c.probe.granted);
        const engine = new AdmissionEngine({ ruleSet, view: viewOf(c.grants.map((g) => grantObject(g))) });
        const body = JSON.parse(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: c.request })) as unknown;
        const outcome = await engine.review(endpoint, body);
        checkReviewAnswer(outcome.statusCode, outcome.body, body, endpoint);
        expect(outcome.body.response.allowed).toBe(false);
        expect(outcome.body.response.status?.code).toBe(403);
      }),
      runs(1_000),
    );
  });
});

describe('the engine, on arbitrary and mutated bodies', () => {
  const engine = new AdmissionEngine({
    ruleSet,
    view: viewOf([grantObject({ namespace: 'monitoring', name: 'g', from: [{ group: KGATEWAY, kind: 'HTTPListenerPolicy', namespace: 'kgateway' }], to: [{ group: '', kind: 'Service' }] })]),
  });

  it('never throws, always answers a well-formed AdmissionReview (200) or a 400 with a reason, and no rule ever errors', async () => {
    await fc.assert(
      fc.asyncProperty(arbitraryBodyArb, fc.constantFrom('mutate' as const, 'validate' as const), async (body, endpoint) => {
        const outcome = await engine.review(endpoint, body);
        checkReviewAnswer(outcome.statusCode, outcome.body, body, endpoint);
        expect(outcome.decision).not.toBe('error');
      }),
      runs(2_500),
    );
  });
});
