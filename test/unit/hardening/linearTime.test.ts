// Issue 17 item 5: the referrer index and the grant guard were quadratic (a
// 16,384-ref object cost 0.7 s per watch event; 4,000 referrers × 4,000
// grants cost 0.55 s per grant DELETE). Their linear forms must give exactly
// the old answers; the old code is kept here as the reference. The speed is
// measured by the bench's worst-case part, not asserted here.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InMemoryClusterView } from '../../../src/cluster/inMemoryClusterView.js';
import type { ClusterView, ReferenceFrom, Referrer, ReferenceTo } from '../../../src/rules/clusterView.js';
import { backendRefExtractor } from '../../../src/rules/crossNamespaceBackendRefs.js';
import { referrersLosingGrant } from '../../../src/rules/referenceGrantGuard.js';
import { GrantLookup } from '../../../src/rules/referenceGrants.js';
import type { GrantEntries } from '../../../src/rules/clusterView.js';

// Few distinct values, so that grants and refs match often; '/' and ':' in
// them, so that a key built by joining parts would confuse two tuples.
const part = fc.constantFrom('', 'a', 'b', 'a/b', 'b/', '/a', '1:a', 'Service');
const fromArb = fc.record({ group: part, kind: part, namespace: part });
const toArb = fc.record({ group: part, kind: part, namespace: part, name: part });
const grantArb: fc.Arbitrary<GrantEntries> = fc.record({
  from: fc.array(fromArb, { maxLength: 3 }),
  to: fc.array(fc.record({ group: part, kind: part, name: part }), { maxLength: 3 }),
});

/** GEP-709 for one grant, as the code checked it grant by grant before item 5. */
function grantAllows(entries: GrantEntries, from: ReferenceFrom, to: ReferenceTo): boolean {
  return (
    entries.from.some((f) => f.group === from.group && f.kind === from.kind && f.namespace === from.namespace) &&
    entries.to.some((t) => t.group === to.group && t.kind === to.kind && (t.name === '' || t.name === to.name))
  );
}

/** The guard as it was before item 5: every referrer target against every other grant. */
function referrersLosingGrantBefore(view: ClusterView, namespace: string, grantName: string, previous: GrantEntries, next: GrantEntries | undefined): Referrer[] {
  const others = [...view.referenceGrantsIn(namespace)].filter(([name]) => name !== grantName).map(([, entries]) => entries);
  const losing: Referrer[] = [];
  for (const referrer of view.referrersInto(namespace)) {
    const lost = referrer.targets.filter((to) => {
      if (others.some((g) => grantAllows(g, referrer.from, to))) return false;
      return grantAllows(previous, referrer.from, to) && !(next && grantAllows(next, referrer.from, to));
    });
    if (lost.length > 0) losing.push({ ...referrer, targets: lost });
  }
  return losing.sort((a, b) => `${a.from.namespace}/${a.name}`.localeCompare(`${b.from.namespace}/${b.name}`));
}

function viewOf(grants: Map<string, GrantEntries>, referrers: Referrer[]): ClusterView {
  return {
    isReferenceGranted: () => false,
    gatewayClassController: () => undefined,
    gatewayClassParametersRef: () => undefined,
    namespaceEnforcement: () => undefined,
    objectExists: () => undefined,
    referenceGrantsIn: () => grants,
    referrersInto: () => referrers,
  };
}

describe('linear lookups give the answers of the quadratic code they replace', () => {
  it('GrantLookup.allows is grantAllows over every grant', () => {
    fc.assert(
      fc.property(fc.array(grantArb, { maxLength: 6 }), fc.array(fc.tuple(fromArb, toArb), { minLength: 1, maxLength: 20 }), (grants, questions) => {
        const lookup = new GrantLookup(grants);
        for (const [from, to] of questions) expect(lookup.allows(from, to)).toBe(grants.some((g) => grantAllows(g, from, to)));
      }),
      { numRuns: 500 },
    );
  });

  it('referrersLosingGrant finds the same referrers and targets', () => {
    const referrerArb = fc.record({ from: fromArb, name: fc.constantFrom('p', 'q', 'r', 's'), targets: fc.array(toArb, { maxLength: 5 }) });
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(fc.constantFrom('g1', 'g2', 'g3', 'g4', 'changed'), grantArb), { selector: ([name]) => name, maxLength: 5 }),
        fc.array(referrerArb, { maxLength: 8 }),
        grantArb,
        fc.option(grantArb, { nil: undefined }),
        (grants, referrers, previous, next) => {
          const view = viewOf(new Map(grants), referrers);
          expect(referrersLosingGrant(view, 'ns', 'changed', previous, next)).toEqual(referrersLosingGrantBefore(view, 'ns', 'changed', previous, next));
        },
      ),
      { numRuns: 500 },
    );
  });

  it("the view's referrer index groups each object's cross-namespace targets by namespace, in order, as before", () => {
    const extract = backendRefExtractor([{ group: 'g', kind: 'Policy', paths: ['spec.refs[]'] }]);
    const ns = fc.constantFrom('a', 'b', 'c', 'd');
    const policyArb = fc.record({
      name: fc.constantFrom('p1', 'p2', 'p3'),
      namespace: ns,
      refs: fc.array(fc.record({ namespace: ns, name: fc.constantFrom('s1', 's2', 's3'), kind: fc.constantFrom('Service', 'Backend') }), { maxLength: 12 }),
    });
    fc.assert(
      fc.property(fc.array(policyArb, { maxLength: 8 }), (policies) => {
        const view = InMemoryClusterView.fromObjects(
          policies.map((p) => ({ apiVersion: 'g/v1', kind: 'Policy', metadata: { name: p.name, namespace: p.namespace }, spec: { refs: p.refs } })),
          { backendRefs: extract },
        );
        // The last object of each name wins, as a watch's replaced object.
        const latest = new Map(policies.map((p) => [`${p.namespace}/${p.name}`, p]));
        for (const target of ['a', 'b', 'c', 'd']) {
          const expected: Referrer[] = [];
          for (const p of latest.values()) {
            if (p.namespace === target) continue;
            const from: ReferenceFrom = { group: 'g', kind: 'Policy', namespace: p.namespace };
            const targets: ReferenceTo[] = p.refs.filter((r) => r.namespace === target).map((r) => ({ group: '', kind: r.kind, namespace: r.namespace, name: r.name }));
            if (targets.length > 0) expected.push({ from, name: p.name, targets });
          }
          const byKey = (r: Referrer) => `${r.from.namespace}/${r.name}`;
          expect([...view.referrersInto(target)].sort((x, y) => byKey(x).localeCompare(byKey(y)))).toEqual(expected.sort((x, y) => byKey(x).localeCompare(byKey(y))));
        }
      }),
      { numRuns: 300 },
    );
  });
});
