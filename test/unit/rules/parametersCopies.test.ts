import { describe, expect, it } from 'vitest';
import { InMemoryClusterView } from '../../../src/cluster/inMemoryClusterView.js';
import { parseConfig, ruleSettings } from '../../../src/config/config.js';
import { copyObject, namespacesNeedingCopies, plannedCopyActions, COPY_OF_LABEL, MANAGED_BY_LABEL } from '../../../src/rules/parametersCopies.js';
import type { KubeObject } from '../../../src/rules/types.js';
import { gateway, gatewayClass } from '../../support/builders.js';

const settings = ruleSettings(parseConfig({ mutation: { copyParameters: { enabled: true } } }), undefined, 'kga-system');
const SOURCE_REF = { namespace: 'kga-system', name: 'agentgateway-otel' };
const SPEC = { kube: { agentgateway: { env: [{ name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: 'http://collector.monitoring:4317' }] } } };
const SOURCE = { ...SOURCE_REF, spec: SPEC };
const KIND = { apiVersion: 'gateway.kgateway.dev/v1alpha1', kind: 'GatewayParameters' };

function ours(namespace: string, spec: unknown = SPEC, extra: Record<string, unknown> = {}): KubeObject {
  const copy = copyObject(SOURCE, KIND, namespace);
  return { ...copy, metadata: { ...copy.metadata, resourceVersion: '7', ...extra }, spec };
}

function handMade(namespace: string): KubeObject {
  return { ...KIND, metadata: { name: 'agentgateway-otel', namespace, resourceVersion: '3' }, spec: { kube: {} } };
}

describe('which namespaces need a copy of the parameters object', () => {
  const view = InMemoryClusterView.fromObjects([gatewayClass('team-class', 'kgateway.dev/agentgateway')]);

  it('every namespace with a Gateway the mutation matches, other than the source namespace', () => {
    const gateways = [
      gateway({ namespace: 'team-a' }),
      gateway({ namespace: 'team-b', className: 'team-class' }),
      gateway({ namespace: 'kga-system' }),
      // Not agentgateway's, skipped, or pointing at other parameters: no copy.
      gateway({ namespace: 'envoy', className: 'kgateway' }),
      gateway({ namespace: 'skipped', annotations: { 'kgateway-admission.dev/skip': 'true' } }),
      gateway({ namespace: 'own', spec: { infrastructure: { parametersRef: { group: 'gateway.kgateway.dev', kind: 'GatewayParameters', name: 'mine' } } } }),
      // Already pointing at ours: needs it.
      gateway({ namespace: 'patched', spec: { infrastructure: { parametersRef: { group: 'gateway.kgateway.dev', kind: 'GatewayParameters', name: 'agentgateway-otel' } } } }),
    ];
    expect([...namespacesNeedingCopies(gateways, settings, view, 'kga-system')].sort()).toEqual(['patched', 'team-a', 'team-b']);
  });

  it('not for a Gateway being deleted, nor one the class parameters keep without our ref (classParameters: skip)', () => {
    const deleting = gateway({ namespace: 'going' });
    deleting.metadata!.deletionTimestamp = '2026-12-07T00:00:00Z';
    const skip = ruleSettings(parseConfig({ mutation: { copyParameters: { enabled: true }, classParameters: 'skip' } }), undefined, 'kga-system');
    const classView = InMemoryClusterView.fromObjects([gatewayClass('agentgateway', 'kgateway.dev/agentgateway', { group: 'gateway.kgateway.dev', kind: 'GatewayParameters', name: 'c', namespace: 'x' })]);
    expect([...namespacesNeedingCopies([deleting], settings, view, 'kga-system')]).toEqual([]);
    expect([...namespacesNeedingCopies([gateway({ namespace: 'classy' })], skip, classView, 'kga-system')]).toEqual([]);
  });
});

describe('what the copier does', () => {
  const plan = (needed: string[], existing: KubeObject[], source: typeof SOURCE | null = SOURCE) =>
    plannedCopyActions({ source: source ?? undefined, sourceRef: SOURCE_REF, needed: new Set(needed), existing: [{ ...KIND, metadata: { ...SOURCE_REF, resourceVersion: '1' }, spec: SPEC }, ...existing] });

  it('creates a copy where one is needed and none exists', () => {
    expect(plan(['team-b', 'team-a'], [])).toEqual([
      { action: 'create', namespace: 'team-a' },
      { action: 'create', namespace: 'team-b' },
    ]);
  });

  it('updates a copy of ours that differs from the source, leaves an equal one alone', () => {
    expect(plan(['team-a', 'team-b'], [ours('team-a', { kube: { old: true } }), ours('team-b')])).toEqual([{ action: 'update', namespace: 'team-a', resourceVersion: '7' }]);
  });

  it('deletes a copy of ours that no Gateway needs any more, unless it is already being deleted', () => {
    expect(plan([], [ours('team-a'), ours('team-b', SPEC, { deletionTimestamp: '2026-12-07T00:00:00Z' })])).toEqual([{ action: 'delete', namespace: 'team-a', resourceVersion: '7' }]);
  });

  it('never touches an object it did not make: not updated, not deleted, not replaced', () => {
    expect(plan(['team-a'], [handMade('team-a')])).toEqual([{ action: 'foreign', namespace: 'team-a' }]);
    expect(plan([], [handMade('team-a')])).toEqual([]);
    // Our managed-by label alone, or a copy-of another source, is not ours either.
    const otherSource = ours('team-a');
    otherSource.metadata!.labels = { ...otherSource.metadata!.labels, [COPY_OF_LABEL]: 'elsewhere.agentgateway-otel' };
    const managedOnly = handMade('team-b');
    managedOnly.metadata!.labels = { [MANAGED_BY_LABEL]: 'kgateway-admission' };
    expect(plan([], [otherSource, managedOnly])).toEqual([]);
  });

  it('with no source object, does nothing: no copies to make, and removing them would break the Gateways using them', () => {
    expect(plan(['team-a'], [ours('team-b')], null)).toEqual([]);
  });

  it('ignores objects of other names and the source itself', () => {
    const other = { ...KIND, metadata: { name: 'other', namespace: 'team-a', resourceVersion: '2' }, spec: {} };
    expect(plan(['team-a'], [other])).toEqual([{ action: 'create', namespace: 'team-a' }]);
  });

  it('a copy carries the source spec, our labels and where it came from', () => {
    expect(copyObject(SOURCE, KIND, 'team-a', '9')).toEqual({
      ...KIND,
      metadata: {
        name: 'agentgateway-otel',
        namespace: 'team-a',
        labels: { 'app.kubernetes.io/managed-by': 'kgateway-admission', 'kgateway-admission.dev/copy-of': 'kga-system.agentgateway-otel' },
        annotations: { 'kgateway-admission.dev/copied-from': 'kga-system/agentgateway-otel' },
        resourceVersion: '9',
      },
      spec: SPEC,
    });
  });
});
