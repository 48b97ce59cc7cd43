import { describe, expect, it } from 'vitest';
import { InMemoryClusterView } from '../../../src/cluster/inMemoryClusterView.js';
import { parseConfig, ruleSettings } from '../../../src/config/config.js';
import { PROFILES, profileForServedKinds, type ServedKinds } from '../../../src/rules/profiles.js';
import { buildRuleSet, decide } from '../../../src/rules/ruleSet.js';
import { admissionRequest, httpListenerPolicy, listenerPolicy } from '../../support/builders.js';

const none: ServedKinds = { agentgatewayParameters: false, agentgatewayModel: false, gatewayParameters: false, listenerPolicy: false };

// What each release's CRD charts serve (harness/releaseMatrix.ts; the e2e
// installs each release and asks serve which profile it picked).
describe('the profile a cluster\'s served kinds call for', () => {
  it.each<[string, Partial<ServedKinds>, string]>([
    ['kgateway 2.1 (agentgateway inside, HTTPListenerPolicy only)', { gatewayParameters: true }, 'kgateway-v2.1'],
    ['kgateway 2.2 with its agentgateway CRDs', { gatewayParameters: true, listenerPolicy: true, agentgatewayParameters: true }, 'agentgateway-v2.2'],
    ['kgateway 2.4, Envoy only', { gatewayParameters: true, listenerPolicy: true }, 'kgateway-v2.4'],
    ['agentgateway 1.0 standalone', { agentgatewayParameters: true }, 'agentgateway-v1'],
    ['agentgateway 1.4 standalone (AgentgatewayModel)', { agentgatewayParameters: true, agentgatewayModel: true }, 'agentgateway-v1'],
    ['kgateway 2.4 beside agentgateway 1.4', { gatewayParameters: true, listenerPolicy: true, agentgatewayParameters: true, agentgatewayModel: true }, 'agentgateway-v1'],
    ['nothing of either', {}, 'kgateway-v2.1'],
  ])('%s → %s', (_name, served, profile) => {
    expect(profileForServedKinds({ ...none, ...served })).toBe(profile);
  });
});

describe('release profiles', () => {
  it('agentgateway-v1 wires standalone agentgateway: its controller name and AgentgatewayParameters, both parameters applied', () => {
    expect(PROFILES['agentgateway-v1']).toEqual({
      gatewayControllerNames: ['agentgateway.dev/agentgateway'],
      parametersRef: { group: 'agentgateway.dev', kind: 'AgentgatewayParameters' },
      classParameters: 'add',
    });
  });

  it('kgateway-v2.3 and kgateway-v2.4 are the Envoy data plane with GatewayParameters', () => {
    for (const name of ['kgateway-v2.3', 'kgateway-v2.4'] as const) {
      expect(PROFILES[name]).toMatchObject({ gatewayControllerNames: ['kgateway.dev/kgateway'], parametersRef: { group: 'gateway.kgateway.dev', kind: 'GatewayParameters' } });
    }
  });

  it('on kgateway-v2.4 an admitted HTTPListenerPolicy gets a warning naming ListenerPolicy; not on 2.3, nor a ListenerPolicy', () => {
    const view = InMemoryClusterView.fromObjects([]);
    const local = httpListenerPolicy({ otelAccessLogRefs: [{ name: 'collector', port: 4317 }] });
    const v24 = buildRuleSet(ruleSettings(parseConfig({ profile: 'kgateway-v2.4' }))).validating;
    const verdict = decide(v24, admissionRequest(local), view);
    expect(verdict.allowed).toBe(true);
    expect(verdict.warnings).toEqual(['HTTPListenerPolicy is deprecated in kgateway 2.4 and removed after it: use ListenerPolicy (spec.default.httpSettings)']);
    expect(verdict.warnings![0]!.length).toBeLessThanOrEqual(120);
    expect(decide(v24, admissionRequest(local, 'UPDATE', local), view).warnings).toHaveLength(1);
    expect(decide(v24, admissionRequest(listenerPolicy({ defaultRef: { name: 'collector', port: 4317 } })), view).warnings ?? []).toEqual([]);
    const v23 = buildRuleSet(ruleSettings(parseConfig({ profile: 'kgateway-v2.3' }))).validating;
    expect(decide(v23, admissionRequest(local), view).warnings ?? []).toEqual([]);
  });

  it('a denied HTTPListenerPolicy on kgateway-v2.4 is still denied, with the deprecation beside the missing grant', () => {
    const v24 = buildRuleSet(ruleSettings(parseConfig({ profile: 'kgateway-v2.4' }))).validating;
    const verdict = decide(v24, admissionRequest(httpListenerPolicy()), InMemoryClusterView.fromObjects([]));
    expect(verdict.allowed).toBe(false);
    expect(verdict.message).toContain('no ReferenceGrant allows');
  });
});
