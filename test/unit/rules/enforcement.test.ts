// Warn mode for rollouts (Gatekeeper's enforcementAction: warn, Kyverno's
// Audit): validation.enforcement, overridden by the label on the Namespace
// of the object being admitted, itself overridden by the label on the target
// Namespace (issue 21 item 2: the target's owner has the last word).
import { describe, expect, it } from 'vitest';
import { InMemoryClusterView } from '../../../src/cluster/inMemoryClusterView.js';
import { parseConfig, ruleSettings } from '../../../src/config/config.js';
import { viewOptionsFor } from '../../../src/cluster/inMemoryClusterView.js';
import { ENFORCEMENT_LABEL } from '../../../src/rules/enforcement.js';
import { buildRuleSet, decide } from '../../../src/rules/ruleSet.js';
import type { KubeObject } from '../../../src/rules/types.js';
import { admissionRequest, backendRef, httpListenerPolicy, referenceGrant } from '../../support/builders.js';

function rulesFor(enforcement?: 'deny' | 'warn', validation: Record<string, unknown> = {}) {
  return buildRuleSet(ruleSettings(parseConfig({ validation: { ...(enforcement ? { enforcement } : {}), ...validation } }))).validating;
}

function namespace(name: string, label?: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, ...(label !== undefined ? { labels: { [ENFORCEMENT_LABEL]: label, team: 'x' } } : {}) } };
}

const REF_WARNING = 'admitted in warn mode: no ReferenceGrant allows Service monitoring/otel-collector-collector';

describe('enforcement of a missing ReferenceGrant', () => {
  it.each<[string, 'deny' | 'warn' | undefined, KubeObject[], 'denied' | 'warned']>([
    ['default config, no label', undefined, [], 'denied'],
    ['config deny, no label', 'deny', [], 'denied'],
    ['config warn, no label', 'warn', [], 'warned'],
    ['config deny, the policy namespace labelled warn', 'deny', [namespace('kgateway', 'warn')], 'warned'],
    ['config warn, the policy namespace labelled deny', 'warn', [namespace('kgateway', 'deny')], 'denied'],
    ['config warn, the policy namespace unlabelled', 'warn', [namespace('kgateway')], 'warned'],
    ['config deny, another namespace labelled warn', 'deny', [namespace('apps', 'warn')], 'denied'],
    ['config warn, a label that is neither deny nor warn', 'warn', [namespace('kgateway', 'Warn')], 'denied'],
    ['config warn, an empty label', 'warn', [namespace('kgateway', '')], 'denied'],
    // The target's owner has the last word.
    ['the policy namespace labelled warn, the target labelled deny', 'deny', [namespace('kgateway', 'warn'), namespace('monitoring', 'deny')], 'denied'],
    ['config warn, the target labelled deny', 'warn', [namespace('monitoring', 'deny')], 'denied'],
    ['config warn, the target labelled with neither deny nor warn', 'warn', [namespace('monitoring', 'audit')], 'denied'],
    ['config deny, the target labelled warn', 'deny', [namespace('monitoring', 'warn')], 'warned'],
    ['the policy namespace labelled deny, the target labelled warn', 'deny', [namespace('kgateway', 'deny'), namespace('monitoring', 'warn')], 'warned'],
  ])('%s: %s', (_name, enforcement, objects, expected) => {
    const verdict = decide(rulesFor(enforcement), admissionRequest(httpListenerPolicy()), InMemoryClusterView.fromObjects(objects));
    expect(verdict.message).toContain('Create this ReferenceGrant in namespace monitoring');
    if (expected === 'denied') {
      expect(verdict).toMatchObject({ allowed: false, code: 403, warnings: [] });
      expect(verdict.warned).toBeUndefined();
    } else {
      expect(verdict).toMatchObject({
        allowed: true,
        patch: [],
        warnings: [REF_WARNING],
        warned: true,
        reason: 'no ReferenceGrant allows spec.accessLog[0].openTelemetry.grpcService.backendRef -> Service monitoring/otel-collector-collector',
      });
      expect(verdict.code).toBeUndefined();
      // What deny mode would say, kept for audit and check, never sent (the response of an allowed verdict has no status).
      expect(verdict.suggestions).toHaveLength(1);
    }
  });

  it('denies an object with one ref into a namespace labelled deny, whatever its other refs and its own label, and says why', () => {
    const policy = httpListenerPolicy({ otelAccessLogRefs: [backendRef({ namespace: 'open' }), backendRef({ namespace: 'locked' }), backendRef({ namespace: 'plain' })] });
    const labels = [namespace('kgateway', 'warn'), namespace('open', 'warn'), namespace('locked', 'deny')];
    const verdict = decide(rulesFor('deny'), admissionRequest(policy), InMemoryClusterView.fromObjects(labels));
    expect(verdict.allowed).toBe(false);
    // Every ungranted ref is listed: kgateway refuses them all.
    for (const ns of ['open', 'locked', 'plain']) expect(verdict.message).toContain(`Service ${ns}/otel-collector-collector`);
    expect(verdict.message).toContain(`(Namespace locked has label ${ENFORCEMENT_LABEL}=deny: refs into it are denied without a grant, whatever the referring namespace's enforcement.)`);
    // Without the locked ref, the warn labels admit it.
    const rest = httpListenerPolicy({ otelAccessLogRefs: [backendRef({ namespace: 'open' }), backendRef({ namespace: 'plain' })] });
    expect(decide(rulesFor('deny'), admissionRequest(rest), InMemoryClusterView.fromObjects(labels))).toMatchObject({ allowed: true, warned: true });
    // An unlabelled target under an unlabelled source follows the config.
    expect(decide(rulesFor('deny'), admissionRequest(rest), InMemoryClusterView.fromObjects([namespace('open', 'warn')])).allowed).toBe(false);
  });

  it('admits a granted or same-namespace ref without a warning in warn mode', () => {
    const rules = rulesFor('warn');
    const granted = decide(rules, admissionRequest(httpListenerPolicy()), InMemoryClusterView.fromObjects([referenceGrant()]));
    expect(granted).toEqual({ allowed: true, patch: [], warnings: [] });
    const local = httpListenerPolicy({ otelAccessLogRefs: [backendRef({ namespace: 'kgateway' })] });
    expect(decide(rules, admissionRequest(local), InMemoryClusterView.fromObjects([]))).toEqual({ allowed: true, patch: [], warnings: [] });
  });

  it('says in the denial when the label has a value it does not know', () => {
    const verdict = decide(rulesFor('deny'), admissionRequest(httpListenerPolicy()), InMemoryClusterView.fromObjects([namespace('kgateway', 'audit')]));
    expect(verdict.message).toContain(`(Namespace kgateway has label ${ENFORCEMENT_LABEL}="audit", which is neither deny nor warn: enforced as deny.)`);
    const target = decide(rulesFor('warn'), admissionRequest(httpListenerPolicy()), InMemoryClusterView.fromObjects([namespace('monitoring', 'Deny')]));
    expect(target.message).toContain(`(Namespace monitoring has label ${ENFORCEMENT_LABEL}="Deny", which is neither deny nor warn: enforced as deny.)`);
  });

  it('warns once per missing target, names each in at most 120 characters, and counts past ten', () => {
    const targets = Array.from({ length: 14 }, (_, i) => backendRef({ name: `collector-${i}` }));
    const policy = httpListenerPolicy({
      // The same target twice, and one with a name at the 253-character limit.
      otelAccessLogRefs: [backendRef(), backendRef(), backendRef({ name: 'n'.repeat(253), namespace: 'long' }), ...targets],
    });
    const verdict = decide(rulesFor('warn'), admissionRequest(policy), InMemoryClusterView.fromObjects([referenceGrant({ to: [{ name: 'collector-13' }] })]));
    expect(verdict.allowed).toBe(true);
    expect(verdict.warned).toBe(true);
    expect(verdict.warnings).toHaveLength(11);
    expect(verdict.warnings[0]).toBe(REF_WARNING);
    expect(verdict.warnings[1]).toMatch(/^admitted in warn mode: no ReferenceGrant allows Service long\/n+…$/);
    expect(verdict.warnings[2]).toBe('admitted in warn mode: no ReferenceGrant allows Service monitoring/collector-0');
    // 1 + 1 + 13 distinct ungranted targets: ten named, five counted.
    expect(verdict.warnings[10]).toBe('admitted in warn mode: 5 more refs that no ReferenceGrant allows');
    for (const warning of verdict.warnings) expect([...warning].length).toBeLessThanOrEqual(120);
    expect(verdict.warnings.join('').length).toBeLessThan(4096);
  });

  it('never softens what is not a missing grant: an object too deep to check is still denied', () => {
    const rules = rulesFor('warn', { scanKinds: [{ group: 'example.com', kind: 'Deep' }] });
    let spec: Record<string, unknown> = { backendRef: { name: 'x', namespace: 'monitoring' } };
    for (let i = 0; i < 200; i++) spec = { nested: spec };
    const deep: KubeObject = { apiVersion: 'example.com/v1', kind: 'Deep', metadata: { name: 'deep', namespace: 'kgateway' }, spec };
    const verdict = decide(rules, admissionRequest(deep), InMemoryClusterView.fromObjects([namespace('kgateway', 'warn')]));
    expect(verdict.allowed).toBe(false);
    expect(verdict.message).toContain('cannot be checked');
  });

  it('never softens a backendRef that no object can match (a malformed namespace)', () => {
    const malformed = httpListenerPolicy({ otelAccessLogRefs: [backendRef({ namespace: 'Not_A_Namespace' })] });
    const verdict = decide(rulesFor('warn'), admissionRequest(malformed), InMemoryClusterView.fromObjects([namespace('kgateway', 'warn')]));
    expect(verdict.allowed).toBe(false);
    expect(verdict.warned).toBeUndefined();
  });

  it('leaves the grant guard to its own setting', () => {
    const policy = httpListenerPolicy();
    const grant = referenceGrant();
    const settings = ruleSettings(parseConfig({ validation: { enforcement: 'warn', grantGuard: 'deny' } }));
    const view = InMemoryClusterView.fromObjects([policy, grant, namespace('monitoring', 'warn'), namespace('kgateway', 'warn')], viewOptionsFor(settings));
    const verdict = decide(buildRuleSet(settings).validating, admissionRequest(referenceGrant({ to: [{ name: 'other' }] }), 'UPDATE', grant), view);
    expect(verdict.allowed).toBe(false);
    expect(verdict.message).toContain('would break 1 object(s)');
  });

  it('follows the label as the view changes: set, flipped, removed', () => {
    const view = InMemoryClusterView.fromObjects([]);
    const rules = rulesFor('deny');
    const outcome = () => {
      const v = decide(rules, admissionRequest(httpListenerPolicy()), view);
      return v.allowed ? (v.warned ? 'warned' : 'allowed') : 'denied';
    };
    expect(outcome()).toBe('denied');
    view.upsert(namespace('kgateway', 'warn'));
    expect(outcome()).toBe('warned');
    view.upsert(namespace('kgateway', 'deny'));
    expect(outcome()).toBe('denied');
    view.upsert(namespace('kgateway', 'warn'));
    view.upsert(namespace('kgateway'));
    expect(outcome()).toBe('denied');
    view.upsert(namespace('kgateway', 'warn'));
    view.remove(namespace('kgateway'));
    expect(outcome()).toBe('denied');
    // The live watch hands over metadata only (PartialObjectMetadata).
    view.upsertNamespace({ apiVersion: 'meta.k8s.io/v1', kind: 'PartialObjectMetadata', metadata: { name: 'kgateway', labels: { [ENFORCEMENT_LABEL]: 'warn' } } });
    expect(outcome()).toBe('warned');
    view.removeNamespace({ metadata: { name: 'kgateway' } });
    expect(outcome()).toBe('denied');
  });
});
