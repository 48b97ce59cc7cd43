import { describe, expect, it } from 'vitest';
import { versionFor, watchedKinds } from '../../../src/cluster/watchedKinds.js';
import { parseConfig, ruleSettings } from '../../../src/config/config.js';
import type { DiscoveredResource } from '../../../src/kube/kubeApi.js';

const settings = (config: unknown = {}) => ruleSettings(parseConfig(config), 'agentgateway-v2.2');
const names = (kinds: { kind: string }[]) => kinds.map((k) => k.kind);

describe('watchedKinds: the one answer to what a view reads', () => {
  it('grants, classes, the parameters kind, labelled Namespaces (metadata only), and the kinds with backendRefs for the grant guard', () => {
    const kinds = watchedKinds(settings());
    expect(names(kinds)).toEqual([
      'ReferenceGrant',
      'GatewayClass',
      'AgentgatewayParameters',
      // The kinds of the generated reference-site table (src/rules/generated/referenceSites.ts), in its order.
      'AgentgatewayBackend',
      'AgentgatewayModel',
      'AgentgatewayPolicy',
      'GatewayExtension',
      'HTTPListenerPolicy',
      'ListenerPolicy',
      'TrafficPolicy',
      'Namespace',
    ]);
    expect(kinds.at(-1)).toEqual({ group: '', kind: 'Namespace', listOptions: { labelSelector: 'kgateway-admission.dev/enforcement', metadataOnly: true } });
  });

  it('with the grant guard off, no kind with backendRefs (they may carry inline credentials)', () => {
    expect(names(watchedKinds(settings({ validation: { grantGuard: 'off' } })))).toEqual(['ReferenceGrant', 'GatewayClass', 'AgentgatewayParameters', 'Namespace']);
  });

  it('an audit (the audit command, the reports) also reads Gateways and every kind with backendRefs, whatever the guard says', () => {
    const kinds = names(watchedKinds(settings({ validation: { grantGuard: 'off' } }), { audit: true }));
    expect(kinds).toContain('Gateway');
    expect(kinds).toContain('AgentgatewayBackend');
  });

  it('config rows and scanKinds once each', () => {
    const kinds = watchedKinds(
      settings({ validation: { backendRefKinds: [{ group: 'x.dev', kind: 'A', paths: ['spec.backendRef'] }], scanKinds: [{ group: 'x.dev', kind: 'A' }, { group: 'x.dev', kind: 'B' }] } }),
    );
    expect(kinds.filter((k) => k.group === 'x.dev')).toEqual([
      { group: 'x.dev', kind: 'A' },
      { group: 'x.dev', kind: 'B' },
    ]);
  });
});

describe('versionFor: the version a kind is read at', () => {
  const served = (group: string, kind: string, versions: string[]): DiscoveredResource => ({ group, kind, plural: 'x', namespaced: true, versions });

  it('ReferenceGrant: v1 where served, else v1beta1, whatever the group prefers', () => {
    expect(versionFor(served('gateway.networking.k8s.io', 'ReferenceGrant', ['v1beta1', 'v1']), settings())).toBe('v1');
    expect(versionFor(served('gateway.networking.k8s.io', 'ReferenceGrant', ['v1beta1']), settings())).toBe('v1beta1');
    expect(versionFor(served('gateway.networking.k8s.io', 'GatewayClass', ['v1beta1', 'v1']), settings())).toBe('v1');
  });

  it('a kind with backendRefs: the version its paths were read from, not a newer preferred one', () => {
    expect(versionFor(served('agentgateway.dev', 'AgentgatewayBackend', ['v1beta9', 'v1alpha1']), settings())).toBe('v1alpha1');
  });

  it('a kind the rules know no versions of: the group\'s preferred version', () => {
    expect(versionFor(served('x.dev', 'B', ['v2', 'v1']), settings())).toBe('v2');
  });
});
