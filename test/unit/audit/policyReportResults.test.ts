import { describe, expect, it } from 'vitest';
import { InMemoryClusterView } from '../../../src/cluster/inMemoryClusterView.js';
import { parseConfig, ruleSettings } from '../../../src/config/config.js';
import { viewOptionsFor } from '../../../src/cluster/inMemoryClusterView.js';
import { auditObjects } from '../../../src/audit/clusterAudit.js';
import { reportResults, summarize } from '../../../src/audit/policyReportResults.js';
import { buildRuleSet } from '../../../src/rules/ruleSet.js';
import type { KubeObject } from '../../../src/rules/types.js';
import { backendRef, gateway, httpListenerPolicy, referenceGrant } from '../../support/builders.js';

const settings = ruleSettings(parseConfig({}), 'kgateway-v2.1');

function results(objects: KubeObject[]) {
  const view = InMemoryClusterView.fromObjects(objects, viewOptionsFor(settings));
  return reportResults(objects, auditObjects(objects, buildRuleSet(settings), settings, view), settings, view);
}

describe('reportResults', () => {
  it('one result per object and rule: fail with the missing refs for an ungranted policy, pass for a granted one', () => {
    const ungranted = httpListenerPolicy({ name: 'ungranted', namespace: 'team-a' });
    const granted = httpListenerPolicy({ name: 'granted' });
    const local = httpListenerPolicy({ name: 'local', otelAccessLogRefs: [backendRef({ namespace: 'kgateway' })] });
    const byNamespace = results([ungranted, granted, local, referenceGrant()]);
    expect([...byNamespace.keys()].sort()).toEqual(['kgateway', 'team-a']);
    const [fail] = byNamespace.get('team-a')!;
    expect(fail).toMatchObject({
      source: 'kgateway-admission',
      policy: 'kgateway-admission',
      rule: 'cross-namespace-backend-refs',
      result: 'fail',
      resources: [{ apiVersion: 'gateway.kgateway.dev/v1alpha1', kind: 'HTTPListenerPolicy', namespace: 'team-a', name: 'ungranted' }],
      properties: { problem: 'ungranted-reference', missingRefs: 'spec.accessLog[0].openTelemetry.grpcService.backendRef: Service monitoring/otel-collector-collector' },
    });
    expect(fail!.message).toContain('Create this ReferenceGrant in namespace monitoring');
    expect(byNamespace.get('kgateway')!.map((r) => [r.resources[0]!.name, r.result])).toEqual([
      ['granted', 'pass'],
      ['local', 'pass'],
    ]);
    expect(summarize(byNamespace.get('kgateway')!)).toEqual({ pass: 2, fail: 0, warn: 0, error: 0, skip: 0 });
  });

  it('agentgateway Gateways are covered by gateway-parameters-ref; Gateways of other classes and ReferenceGrants are not reported', () => {
    const byNamespace = results([gateway({ name: 'no-ref' }), gateway({ name: 'envoy', className: 'kgateway' }), referenceGrant()]);
    expect([...byNamespace.keys()]).toEqual(['kgateway']);
    expect(byNamespace.get('kgateway')!.map((r) => [r.resources[0]!.name, r.rule, r.result])).toEqual([['no-ref', 'gateway-parameters-ref', 'fail']]);
  });

  it('is empty for an empty cluster', () => {
    expect(results([]).size).toBe(0);
  });
});
