// overlayView (issue 22 item 1): the one wrapper for views that differ from
// another in a question or two; every other question is the base's.
import { describe, expect, it } from 'vitest';
import { InMemoryClusterView, viewOptionsFor } from '../../../src/cluster/inMemoryClusterView.js';
import { parseConfig, ruleSettings } from '../../../src/config/config.js';
import { overlayView, recordingUngranted, type ClusterView } from '../../../src/rules/clusterView.js';
import { ENFORCEMENT_LABEL } from '../../../src/rules/enforcement.js';
import { gatewayClass, httpListenerPolicy, referenceGrant } from '../../support/builders.js';

const settings = ruleSettings(parseConfig({}));
const base = InMemoryClusterView.fromObjects(
  [
    referenceGrant(),
    httpListenerPolicy(),
    gatewayClass('agentgateway', 'kgateway.dev/agentgateway'),
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team', labels: { [ENFORCEMENT_LABEL]: 'warn' } } },
    { apiVersion: 'gateway.kgateway.dev/v1alpha1', kind: 'GatewayParameters', metadata: { name: 'agentgateway-otel', namespace: 'kgateway' } },
  ],
  viewOptionsFor(settings),
);
const from = { group: 'gateway.kgateway.dev', kind: 'HTTPListenerPolicy', namespace: 'kgateway' };
const to = { group: '', kind: 'Service', namespace: 'monitoring', name: 'otel-collector-collector' };

/** Every question of the interface, asked of `view`. */
function answers(view: ClusterView): unknown[] {
  return [
    view.isReferenceGranted(from, to),
    view.gatewayClassController('agentgateway'),
    view.gatewayClassParametersRef('agentgateway'),
    view.objectExists('gateway.kgateway.dev', 'GatewayParameters', 'kgateway', 'agentgateway-otel'),
    [...view.referenceGrantsIn('monitoring').keys()],
    view.referrersInto('monitoring').map((r) => r.name),
    view.namespaceEnforcement('team'),
  ];
}

describe('overlayView', () => {
  it("answers what it does not override as its base does, a class instance's methods included", () => {
    expect(answers(overlayView(base, {}))).toEqual(answers(base));
    expect(answers(base)).toEqual([true, 'kgateway.dev/agentgateway', undefined, true, ['allow-otel-collector-access'], ['logging-policy'], 'warn']);
  });

  it('answers an overridden question from the override alone, leaves the base as it was, and stacks', () => {
    const none = overlayView(base, { isReferenceGranted: () => false, referenceGrantsIn: () => new Map() });
    expect(answers(none).slice(0, 1)).toEqual([false]);
    expect([...none.referenceGrantsIn('monitoring').keys()]).toEqual([]);
    expect(answers(none).slice(1)).toEqual(answers(base).slice(1).map((a, i) => (i === 3 ? [] : a)));
    expect(base.isReferenceGranted(from, to)).toBe(true);
    const recording = recordingUngranted(none);
    expect(recording.view.isReferenceGranted(from, to)).toBe(false);
    expect(recording.view.gatewayClassController('agentgateway')).toBe('kgateway.dev/agentgateway');
    expect([...recording.namespaces]).toEqual(['monitoring']);
  });
});
