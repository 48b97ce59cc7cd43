import { describe, expect, it } from 'vitest';
import { InMemoryClusterView } from '../../../src/cluster/inMemoryClusterView.js';
import { parseConfig, ruleSettings } from '../../../src/config/config.js';
import { viewOptionsFor } from '../../../src/cluster/inMemoryClusterView.js';
import { buildRuleSet, decide } from '../../../src/rules/ruleSet.js';
import type { KubeObject } from '../../../src/rules/types.js';
import { admissionRequest, backendRef, httpListenerPolicy, listenerPolicy, referenceGrant } from '../../support/builders.js';

function guard(mode: 'warn' | 'deny' | 'off', objects: KubeObject[], operation: 'UPDATE' | 'DELETE', oldGrant: KubeObject, newGrant?: KubeObject) {
  const settings = ruleSettings(parseConfig({ validation: { grantGuard: mode } }));
  const view = InMemoryClusterView.fromObjects([...objects, oldGrant], viewOptionsFor(settings));
  const request = admissionRequest(operation === 'DELETE' ? null : newGrant!, operation, oldGrant);
  return decide(buildRuleSet(settings).validating, request, view);
}

const logging = httpListenerPolicy({ name: 'logging-policy' });

describe('ReferenceGrant guard', () => {
  it('warns on deleting a grant that a policy depends on, naming the policy', () => {
    const verdict = guard('warn', [logging], 'DELETE', referenceGrant());
    expect(verdict.allowed).toBe(true);
    expect(verdict.warnings).toEqual(['deleting ReferenceGrant monitoring/allow-otel-collector-access breaks HTTPListenerPolicy kgateway/logging-policy']);
  });

  it('denies an UPDATE instead when configured, listing every dependent and what it loses', () => {
    const perPort = listenerPolicy({ name: 'lp', perPortRefs: [backendRef()] });
    const grant = referenceGrant({ from: [{}, { kind: 'ListenerPolicy' }] });
    const verdict = guard('deny', [logging, perPort], 'UPDATE', grant, referenceGrant({ to: [{ name: 'something-else' }] }));
    expect(verdict.allowed).toBe(false);
    expect(verdict.message).toContain('this change to ReferenceGrant monitoring/allow-otel-collector-access would break 2 object(s)');
    expect(verdict.message).toContain('- HTTPListenerPolicy kgateway/logging-policy -> Service otel-collector-collector');
    expect(verdict.message).toContain('- ListenerPolicy kgateway/lp -> Service otel-collector-collector');
    expect(verdict.message).toContain('deleting the grant is never refused');
  });

  it('never denies a DELETE, even when configured to deny: the owner can always revoke a grant, and a terminating namespace can always empty', () => {
    const perPort = listenerPolicy({ name: 'lp', perPortRefs: [backendRef()] });
    const grant = referenceGrant({ from: [{}, { kind: 'ListenerPolicy' }] });
    const verdict = guard('deny', [logging, perPort], 'DELETE', grant);
    expect(verdict.allowed).toBe(true);
    expect(verdict.warnings).toEqual([
      'deleting ReferenceGrant monitoring/allow-otel-collector-access breaks HTTPListenerPolicy kgateway/logging-policy',
      'deleting ReferenceGrant monitoring/allow-otel-collector-access breaks ListenerPolicy kgateway/lp',
    ]);
    // What the namespace controller sends while the Namespace terminates: a DELETE of each grant in it.
    const terminating = { ...grant, metadata: { ...grant.metadata, deletionTimestamp: '2026-12-07T15:00:00Z' } };
    expect(guard('deny', [logging, perPort], 'DELETE', terminating).allowed).toBe(true);
  });

  it('says nothing when another grant still allows the reference, or nobody depends on it', () => {
    const spare = referenceGrant({ name: 'spare', to: [{ name: 'otel-collector-collector' }] });
    expect(guard('deny', [logging, spare], 'DELETE', referenceGrant()).allowed).toBe(true);
    expect(guard('warn', [logging, spare], 'DELETE', referenceGrant()).warnings).toEqual([]);
    expect(guard('deny', [], 'DELETE', referenceGrant()).allowed).toBe(true);
    const sameNamespace = httpListenerPolicy({ name: 'local', otelAccessLogRefs: [backendRef({ namespace: 'kgateway' })] });
    expect(guard('deny', [sameNamespace], 'DELETE', referenceGrant()).allowed).toBe(true);
  });

  it('catches an UPDATE that narrows the grant, and lets one that keeps the permission pass', () => {
    const narrowed = referenceGrant({ to: [{ name: 'something-else' }] });
    expect(guard('warn', [logging], 'UPDATE', referenceGrant(), narrowed).warnings).toEqual([
      'this change to ReferenceGrant monitoring/allow-otel-collector-access breaks HTTPListenerPolicy kgateway/logging-policy',
    ]);
    const widened = referenceGrant({ to: [{ name: 'otel-collector-collector' }, { name: 'more' }] });
    expect(guard('deny', [logging], 'UPDATE', referenceGrant(), widened).allowed).toBe(true);
    const labelsOnly = { ...referenceGrant(), metadata: { ...referenceGrant().metadata, labels: { a: 'b' } } };
    expect(guard('deny', [logging], 'UPDATE', referenceGrant(), labelsOnly).allowed).toBe(true);
  });

  it('is off when configured off, and never looks at CREATE', () => {
    expect(guard('off', [logging], 'DELETE', referenceGrant()).warnings).toEqual([]);
    const settings = ruleSettings(parseConfig({ validation: { grantGuard: 'deny' } }));
    const view = InMemoryClusterView.fromObjects([logging], viewOptionsFor(settings));
    expect(decide(buildRuleSet(settings).validating, admissionRequest(referenceGrant()), view).allowed).toBe(true);
  });

  it('names at most ten dependents and counts the rest', () => {
    const many = Array.from({ length: 13 }, (_, i) => httpListenerPolicy({ name: `p${String(i).padStart(2, '0')}` }));
    const verdict = guard('warn', many, 'DELETE', referenceGrant());
    expect(verdict.warnings).toHaveLength(11);
    expect(verdict.warnings[10]).toBe('…and 3 more objects that depend on ReferenceGrant monitoring/allow-otel-collector-access');
  });

  it('follows dependents as they change in the view', () => {
    const settings = ruleSettings(parseConfig({ validation: { grantGuard: 'deny' } }));
    const view = InMemoryClusterView.fromObjects([referenceGrant(), logging], viewOptionsFor(settings));
    expect(view.referrersInto('monitoring').map((r) => r.name)).toEqual(['logging-policy']);
    view.upsert(httpListenerPolicy({ name: 'logging-policy', otelAccessLogRefs: [backendRef({ namespace: 'tracing' })] }));
    expect(view.referrersInto('monitoring')).toEqual([]);
    expect(view.referrersInto('tracing').map((r) => r.name)).toEqual(['logging-policy']);
    view.remove(logging);
    expect(view.referrersInto('tracing')).toEqual([]);
  });
});
