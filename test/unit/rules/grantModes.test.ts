import { describe, expect, it } from 'vitest';
import { InMemoryClusterView } from '../../../src/cluster/inMemoryClusterView.js';
import { parseConfig, ruleSettings } from '../../../src/config/config.js';
import { grantRequirement } from '../../../src/rules/grantModes.js';
import { buildRuleSet, decide } from '../../../src/rules/ruleSet.js';
import type { KubeObject, Verdict } from '../../../src/rules/types.js';
import { admissionRequest } from '../../support/builders.js';

// Each case is one site of the generated table, as its controller treats it
// (scripts/referenceSiteControls.ts cites where): a team namespace refers to
// an object in another, with no ReferenceGrant unless given.
const TEAM = 'team-a';

function object(group: string, kind: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: `${group}/v1alpha1`, kind, metadata: { name: 'p', namespace: TEAM }, spec };
}

const collector = { name: 'otel-collector', namespace: 'monitoring', port: 4317 };
const agentgatewayPolicy = object('agentgateway.dev', 'AgentgatewayPolicy', {
  targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' }],
  frontend: { accessLog: { otlp: { backendRef: collector } } },
});
const listenerPolicySecret = object('gateway.kgateway.dev', 'ListenerPolicy', {
  default: { httpSettings: { localReplies: { mappers: [{ headers: { add: [{ name: 'x-token', secretRef: { name: 'token', namespace: 'secrets', key: 'v' } }] } }] } } },
});
const listenerPolicyCa = object('gateway.kgateway.dev', 'ListenerPolicy', {
  default: { clientCertificateValidation: { caCertificateRefs: [{ group: '', kind: 'ConfigMap', name: 'ca', namespace: 'pki' }] } },
});
const trafficPolicyExtension = object('gateway.kgateway.dev', 'TrafficPolicy', { extAuth: { extensionRef: { name: 'authz', namespace: 'auth' } } });
const trafficPolicySecret = object('gateway.kgateway.dev', 'TrafficPolicy', { basicAuth: { secretRef: { name: 'users', namespace: 'secrets' } } });
const modelPolicy = object('agentgateway.dev', 'AgentgatewayModel', { policies: { tunnel: { backendRef: { name: 'proxy', namespace: 'egress', port: 3128 } } } });

function validate(obj: KubeObject, grantModes: Record<string, string> = {}, grants: KubeObject[] = []): Verdict {
  const rules = buildRuleSet(ruleSettings(parseConfig({ validation: { grantModes } }))).validating;
  return decide(rules, admissionRequest(obj), InMemoryClusterView.fromObjects(grants));
}

function suggestion(verdict: Verdict): KubeObject {
  expect(verdict.allowed, verdict.message).toBe(false);
  expect(verdict.suggestions).toHaveLength(1);
  return verdict.suggestions![0]!;
}

describe('which cross-namespace refs need a grant follows the controllers\' modes', () => {
  it.each<[string, KubeObject, Record<string, string>, 'denied' | 'warned' | 'admitted']>([
    ['agentgateway route-and-policy (the default): an OTLP access-log backendRef', agentgatewayPolicy, {}, 'denied'],
    ['agentgateway route: the same ref', agentgatewayPolicy, { agentgateway: 'route' }, 'warned'],
    ['agentgateway none: the same ref', agentgatewayPolicy, { agentgateway: 'none' }, 'admitted'],
    ['agentgateway route-and-policy: an AgentgatewayModel tunnel backendRef (stricter than agentgateway)', modelPolicy, {}, 'denied'],
    ['kgateway PERMISSIVE (the default): a ListenerPolicy local-reply secretRef', listenerPolicySecret, {}, 'denied'],
    ['kgateway OFF: the same ref', listenerPolicySecret, { kgateway: 'OFF' }, 'admitted'],
    ['kgateway PERMISSIVE: a TrafficPolicy basicAuth secretRef', trafficPolicySecret, {}, 'denied'],
    ['kgateway PERMISSIVE: a TrafficPolicy extensionRef', trafficPolicyExtension, {}, 'admitted'],
    ['kgateway STRICT: the same extensionRef', trafficPolicyExtension, { kgateway: 'STRICT' }, 'denied'],
    ['kgateway OFF: the same extensionRef', trafficPolicyExtension, { kgateway: 'OFF' }, 'admitted'],
    ['kgateway PERMISSIVE: a ListenerPolicy CA certificate ref', listenerPolicyCa, {}, 'denied'],
  ])('%s: %s', (_name, obj, modes, expected) => {
    const verdict = validate(obj, modes);
    expect(verdict.allowed, verdict.message).toBe(expected !== 'denied');
    expect(Boolean(verdict.warnings?.length), JSON.stringify(verdict.warnings)).toBe(expected === 'warned');
  });

  it('warns, under agentgateway route, that agentgateway will not check the ref either, within 120 characters', () => {
    const verdict = validate(agentgatewayPolicy, { agentgateway: 'route' });
    expect(verdict.warnings).toEqual(['admitted: the controller does not check it either, no ReferenceGrant allows Service monitoring/otel-collector']);
    expect(verdict.warnings![0]!.length).toBeLessThanOrEqual(120);
    expect(verdict.reason).toContain('AGW_BACKEND_REF_GRANT_MODE=route');
    expect(verdict.warned).toBe(true);
  });

  it('suggests a grant to the Secret for a secretRef, and the grant it suggests admits the object', () => {
    const grant = suggestion(validate(listenerPolicySecret));
    expect(grant.metadata!.namespace).toBe('secrets');
    expect(grant.spec).toEqual({ from: [{ group: 'gateway.kgateway.dev', kind: 'ListenerPolicy', namespace: TEAM }], to: [{ group: '', kind: 'Secret', name: 'token' }] });
    expect(validate(listenerPolicySecret, {}, [grant]).allowed).toBe(true);
  });

  it('suggests a grant to the GatewayExtension for an extensionRef under STRICT', () => {
    const grant = suggestion(validate(trafficPolicyExtension, { kgateway: 'STRICT' }));
    expect(grant.spec).toEqual({ from: [{ group: 'gateway.kgateway.dev', kind: 'TrafficPolicy', namespace: TEAM }], to: [{ group: 'gateway.kgateway.dev', kind: 'GatewayExtension', name: 'authz' }] });
    expect(validate(trafficPolicyExtension, { kgateway: 'STRICT' }, [grant]).allowed).toBe(true);
  });

  it('asks for a CA certificate grant from the Gateway, as kgateway checks it, not from the ListenerPolicy', () => {
    const grant = suggestion(validate(listenerPolicyCa));
    expect(grant.metadata!.namespace).toBe('pki');
    expect(grant.spec).toEqual({ from: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: TEAM }], to: [{ group: '', kind: 'ConfigMap', name: 'ca' }] });
    const fromPolicy: KubeObject = { ...grant, spec: { from: [{ group: 'gateway.kgateway.dev', kind: 'ListenerPolicy', namespace: TEAM }], to: [{ group: '', kind: 'ConfigMap', name: 'ca' }] } };
    expect(validate(listenerPolicyCa, {}, [fromPolicy]).allowed).toBe(false);
    expect(validate(listenerPolicyCa, {}, [grant]).allowed).toBe(true);
  });

  it('checks a ref no table row describes (config rows, scanned kinds) in every mode', () => {
    expect(grantRequirement(undefined, { kgateway: 'OFF', agentgateway: 'none' })).toBe('required');
  });

  it('refuses a mode the controllers do not have, naming the values', () => {
    expect(() => parseConfig({ validation: { grantModes: { kgateway: 'LAX' } } })).toThrow('validation.grantModes.kgateway: must be one of OFF, PERMISSIVE, STRICT');
    expect(() => parseConfig({ validation: { grantModes: { agentgateway: 'policy' } } })).toThrow('must be one of route-and-policy, route, none');
  });
});
