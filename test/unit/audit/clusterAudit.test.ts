import { describe, expect, it } from 'vitest';
import { InMemoryClusterView } from '../../../src/cluster/inMemoryClusterView.js';
import { parseConfig, ruleSettings } from '../../../src/config/config.js';
import { viewOptionsFor } from '../../../src/cluster/inMemoryClusterView.js';
import { auditObjects } from '../../../src/audit/clusterAudit.js';
import { buildRuleSet } from '../../../src/rules/ruleSet.js';
import type { KubeObject } from '../../../src/rules/types.js';
import { backendRef, gateway, gatewayClass, httpListenerPolicy, referenceGrant } from '../../support/builders.js';

const settings = ruleSettings(parseConfig({}));
const params = (namespace: string, name = 'agentgateway-otel'): KubeObject => ({ apiVersion: 'gateway.kgateway.dev/v1alpha1', kind: 'GatewayParameters', metadata: { name, namespace } });

function audit(objects: KubeObject[]) {
  return auditObjects(objects, buildRuleSet(settings), settings, InMemoryClusterView.fromObjects(objects, viewOptionsFor(settings))).map((f) => [f.problem, `${f.kind} ${f.namespace}/${f.name}`]);
}

describe('audit', () => {
  it('finds ungranted refs, Gateways without the ref, and refs to missing parameters', () => {
    const withRef = (name: string, paramsName: string) =>
      gateway({ name, spec: { infrastructure: { parametersRef: { group: 'gateway.kgateway.dev', kind: 'GatewayParameters', name: paramsName } } } });
    expect(
      audit([
        httpListenerPolicy({ name: 'ungranted' }),
        gateway({ name: 'bare' }),
        withRef('dangling', 'nowhere'),
        withRef('fine', 'agentgateway-otel'),
        gateway({ name: 'envoy', className: 'kgateway' }),
        params('kgateway'),
      ]),
    ).toEqual([
      ['ungranted-reference', 'HTTPListenerPolicy kgateway/ungranted'],
      ['missing-parametersRef', 'Gateway kgateway/bare'],
      ['missing-parameters', 'Gateway kgateway/dangling'],
    ]);
  });

  it('carries with an ungranted-reference finding the grants its message shows, which clear it', () => {
    const policy = httpListenerPolicy({ name: 'ungranted' });
    const objects = [policy, gateway({ name: 'bare' })];
    const findings = auditObjects(objects, buildRuleSet(settings), settings, InMemoryClusterView.fromObjects(objects, viewOptionsFor(settings)));
    const ungranted = findings.find((f) => f.problem === 'ungranted-reference')!;
    expect(ungranted.suggestions).toHaveLength(1);
    expect(ungranted.suggestions[0]).toMatchObject({ kind: 'ReferenceGrant', metadata: { namespace: 'monitoring' } });
    expect(ungranted.message).toContain(`name: ${ungranted.suggestions[0]!.metadata!.name}`);
    expect(findings.find((f) => f.problem === 'missing-parametersRef')!.suggestions).toEqual([]);
    expect(audit([...objects, ...ungranted.suggestions]).map(([problem]) => problem)).toEqual(['missing-parametersRef']);
  });

  it('finds nothing in the brief setup', () => {
    expect(audit([referenceGrant(), httpListenerPolicy(), gateway({ spec: { infrastructure: { parametersRef: { group: 'gateway.kgateway.dev', kind: 'GatewayParameters', name: 'agentgateway-otel' } } } }), params('kgateway')])).toEqual([]);
  });

  it("reports a Gateway left alone for its class's parametersRef apart from one the webhook would fix", () => {
    const classRef = { group: 'gateway.kgateway.dev', kind: 'GatewayParameters', name: 'class-params', namespace: 'kgateway-system' };
    const objects = [gatewayClass('agentgateway', 'kgateway.dev/agentgateway', classRef), gateway({ name: 'bare' }), params('kgateway')];
    const run = (classParameters: 'skip' | 'add') => {
      const s = ruleSettings(parseConfig({ mutation: { classParameters } }));
      return auditObjects(objects, buildRuleSet(s), s, InMemoryClusterView.fromObjects(objects, viewOptionsFor(s)));
    };
    const [skipped, ...others] = run('skip');
    expect(others).toEqual([]);
    expect(skipped).toMatchObject({ problem: 'class-parametersRef', kind: 'Gateway', namespace: 'kgateway', name: 'bare' });
    expect(skipped!.message).toContain('GatewayClass agentgateway has parametersRef GatewayParameters kgateway-system/class-params');
    expect(run('add').map((f) => f.problem)).toEqual(['missing-parametersRef']);
  });

  it('reports an ungranted ref in a warn-mode namespace too, marked warn, with the grant to create', () => {
    const objects: KubeObject[] = [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-warn', labels: { 'kgateway-admission.dev/enforcement': 'warn' } } },
      httpListenerPolicy({ name: 'rolling', namespace: 'team-warn' }),
      httpListenerPolicy({ name: 'strict', namespace: 'kgateway' }),
    ];
    const findings = auditObjects(objects, buildRuleSet(settings), settings, InMemoryClusterView.fromObjects(objects, viewOptionsFor(settings)));
    expect(findings.map((f) => [f.problem, f.name, f.enforcement])).toEqual([
      ['ungranted-reference', 'rolling', 'warn'],
      ['ungranted-reference', 'strict', 'deny'],
    ]);
    expect(findings[0]!.message).toContain('Create this ReferenceGrant in namespace monitoring');
    expect(findings[0]!.message).toContain('namespace: team-warn');
    expect(findings[0]!.suggestions).toHaveLength(1);
  });

  it('marks deny a warn namespace\'s ref into a namespace labelled deny: the target\'s label has the last word', () => {
    const objects: KubeObject[] = [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-warn', labels: { 'kgateway-admission.dev/enforcement': 'warn' } } },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'locked', labels: { 'kgateway-admission.dev/enforcement': 'deny' } } },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'open', labels: { 'kgateway-admission.dev/enforcement': 'warn' } } },
      httpListenerPolicy({ name: 'into-locked', namespace: 'team-warn', otelAccessLogRefs: [backendRef({ namespace: 'locked' })] }),
      httpListenerPolicy({ name: 'into-open', namespace: 'kgateway', otelAccessLogRefs: [backendRef({ namespace: 'open' })] }),
    ];
    const findings = auditObjects(objects, buildRuleSet(settings), settings, InMemoryClusterView.fromObjects(objects, viewOptionsFor(settings)));
    expect(findings.map((f) => [f.name, f.enforcement])).toEqual([
      ['into-locked', 'deny'],
      ['into-open', 'warn'],
    ]);
    expect(findings[1]!.message).toContain('Create this ReferenceGrant in namespace open');
  });
});
