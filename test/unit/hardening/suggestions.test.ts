// Property: the ReferenceGrants that the denials of one run suggest, pasted
// from the messages and applied one after another in any order on top of the
// grants already there (kubectl apply replaces a grant's from/to lists: they
// are atomic in the CRD), admit every denied object and take no permission
// away. The oracle for "granted" is GEP-709 as written in arbitraries.ts.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { InMemoryClusterView } from '../../../src/cluster/inMemoryClusterView.js';
import { parseConfig, ruleSettings } from '../../../src/config/config.js';
import { viewOptionsFor } from '../../../src/cluster/inMemoryClusterView.js';
import { suggestedGrantName } from '../../../src/rules/referenceGrantSuggestion.js';
import { buildRuleSet, decide } from '../../../src/rules/ruleSet.js';
import type { KubeObject } from '../../../src/rules/types.js';
import { admissionRequest, httpListenerPolicy, listenerPolicy } from '../../support/builders.js';
import { granted, grantObject, KGATEWAY, type Grant, type Target } from './arbitraries.js';

const settings = ruleSettings(parseConfig({}));
const rules = buildRuleSet(settings).validating;
const viewOf = (objects: KubeObject[]) => InMemoryClusterView.fromObjects(objects, viewOptionsFor(settings));

// Small pools, so policies share a referrer kind and namespace and a target
// namespace (the case where one grant name per referrer lost entries), with
// names a YAML 1.1 reader takes for bools, nulls and numbers.
const FROM_NAMESPACES = ['kgateway', 'apps', 'off'] as const;
const TO_NAMESPACES = ['monitoring', '1234', 'kgateway'] as const;
const TO_NAMES = ['otel-logs', 'otel-traces', 'on', 'y', 'null'] as const;
const FROM_KINDS = ['HTTPListenerPolicy', 'ListenerPolicy'] as const;
const TO_KINDS = [
  { group: '', kind: 'Service' },
  { group: KGATEWAY, kind: 'Backend' },
] as const;

const fromArb = fc.record({ group: fc.constant(KGATEWAY), kind: fc.constantFrom(...FROM_KINDS), namespace: fc.constantFrom(...FROM_NAMESPACES) });
const targetArb = fc
  .record({ to: fc.constantFrom(...TO_KINDS), namespace: fc.constantFrom(...TO_NAMESPACES), name: fc.constantFrom(...TO_NAMES) })
  .map(({ to, namespace, name }): Target => ({ ...to, namespace, name }));

/** Grants already in the cluster; some carry the name a suggestion would take, with other content (made or edited by hand). */
const existingGrantArb: fc.Arbitrary<Grant> = fc.oneof(
  fc.record({
    namespace: fc.constantFrom(...TO_NAMESPACES),
    name: fc.constantFrom('allow-httplistenerpolicy-from-kgateway', 'allow-otel', 'g1'),
    from: fc.array(fromArb, { maxLength: 2 }),
    to: fc.array(fc.record({ group: fc.constantFrom('', KGATEWAY), kind: fc.constantFrom('Service', 'Backend'), name: fc.constantFrom(...TO_NAMES, '') }), { maxLength: 2 }),
  }),
  fc.record({ from: fromArb, target: targetArb, attempt: fc.constantFrom(1, 1, 2), other: targetArb }).map(({ from, target, attempt, other }) => ({
    namespace: target.namespace,
    name: suggestedGrantName(from, target, attempt),
    from: [from],
    to: [{ group: other.group, kind: other.kind, name: other.name }],
  })),
);

interface Policy {
  kind: (typeof FROM_KINDS)[number];
  namespace: string;
  targets: Target[];
}
const policyArb: fc.Arbitrary<Policy> = fc.record({
  kind: fc.constantFrom(...FROM_KINDS),
  namespace: fc.constantFrom(...FROM_NAMESPACES),
  targets: fc.array(targetArb, { minLength: 1, maxLength: 4 }),
});

function policyObject(policy: Policy, index: number): KubeObject {
  const refs = policy.targets.map((t) => ({ group: t.group, kind: t.kind, name: t.name, namespace: t.namespace, port: 4317 }));
  return policy.kind === 'HTTPListenerPolicy'
    ? httpListenerPolicy({ name: `p${index}`, namespace: policy.namespace, otelAccessLogRefs: refs })
    : listenerPolicy({ name: `p${index}`, namespace: policy.namespace, perPortRefs: refs });
}

/** The grants the message shows, read as kubectl reads YAML (1.1). */
function pastedFromMessage(message: string): KubeObject[] {
  const start = message.indexOf('apiVersion:');
  return start < 0 ? [] : message.slice(start).split('\n---\n').map((doc) => parse(doc, { version: '1.1' }) as KubeObject);
}

function asGrant(object: KubeObject): Grant {
  const spec = object.spec as Pick<Grant, 'from' | 'to'>;
  return { namespace: object.metadata!.namespace!, name: object.metadata!.name!, from: spec.from, to: spec.to };
}

/** Every (from, to) pair over the pools: the permissions a set of grants can hold here. */
const PROBES = FROM_KINDS.flatMap((kind) =>
  FROM_NAMESPACES.flatMap((namespace) =>
    TO_KINDS.flatMap((to) => TO_NAMESPACES.flatMap((toNamespace) => TO_NAMES.map((name) => ({ from: { group: KGATEWAY, kind, namespace }, to: { ...to, namespace: toNamespace, name } })))),
  ),
);

const CASES = 600;
afterAll(() => {
  process.stderr.write(`[hardening] property cases for suggested ReferenceGrants: ${CASES}\n`);
});

describe('suggested ReferenceGrants', () => {
  it('applied in any order on top of the grants already there, admit every denied object and take no permission away', () => {
    let denials = 0;
    let collisions = 0;
    let renamed = 0;
    fc.assert(
      fc.property(
        fc.array(existingGrantArb, { maxLength: 5 }),
        fc.array(policyArb, { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { minLength: 32, maxLength: 32 }),
        (existingList, policies, orderKeys) => {
          // A namespace holds one grant per name: the last one written stands.
          const existing = new Map(existingList.map((g) => [`${g.namespace}/${g.name}`, g]));
          const objects = policies.map(policyObject);
          const view = viewOf([...[...existing.values()].map((g) => grantObject(g)), ...objects]);

          const denied: KubeObject[] = [];
          const suggestions: KubeObject[] = [];
          for (const object of objects) {
            const verdict = decide(rules, admissionRequest(object), view);
            if (verdict.allowed) continue;
            denied.push(object);
            const pasted = pastedFromMessage(verdict.message!);
            // The message shows, as YAML, exactly the objects the verdict carries.
            expect(pasted).toEqual(verdict.suggestions);
            suggestions.push(...pasted);
          }
          denials += denied.length;

          const order = suggestions.map((_, i) => i).sort((a, b) => orderKeys[a % orderKeys.length]! - orderKeys[b % orderKeys.length]! || a - b);
          const cluster = new Map(existing);
          for (const i of order) {
            const grant = asGrant(suggestions[i]!);
            if (existing.has(`${grant.namespace}/${grant.name}`)) collisions++;
            if (/-[0-9a-f]{8}-\d+$/.test(grant.name)) renamed++;
            cluster.set(`${grant.namespace}/${grant.name}`, grant);
          }
          const before = [...existing.values()];
          const after = [...cluster.values()];

          const afterView = viewOf([...after.map((g) => grantObject(g)), ...objects]);
          for (const object of denied) {
            const verdict = decide(rules, admissionRequest(object), afterView);
            expect(verdict.allowed, verdict.message).toBe(true);
          }
          for (const { from, to } of PROBES) {
            if (granted(before, from, to)) expect(granted(after, from, to), `${JSON.stringify(from)} -> ${JSON.stringify(to)}`).toBe(true);
          }
        },
      ),
      { numRuns: CASES },
    );
    expect(denials).toBeGreaterThan(600);
    // Suggestions never land on a grant that is already there.
    expect(collisions).toBe(0);
    // The generator does put grants of the suggested names in the way.
    expect(renamed).toBeGreaterThan(0);
  });
});
