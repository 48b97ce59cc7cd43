// The webhooks are registered for every API version (apiVersions: ["*"]), so
// the rules must refuse the versions they cannot read instead of reading them
// with the wrong paths or letting them through unread.
import { describe, expect, it } from 'vitest';
import { InMemoryClusterView } from '../../../src/cluster/inMemoryClusterView.js';
import { parseConfig, ruleSettings } from '../../../src/config/config.js';
import { buildRuleSet, decide, knownVersions } from '../../../src/rules/ruleSet.js';
import type { KubeObject } from '../../../src/rules/types.js';
import { admissionRequest, gateway, httpListenerPolicy, referenceGrant } from '../../support/builders.js';

const ruleSet = buildRuleSet(ruleSettings(parseConfig({})));
const view = InMemoryClusterView.fromObjects([]);
const atVersion = (object: KubeObject, version: string): KubeObject => ({ ...object, apiVersion: `${object.apiVersion!.split('/')[0]}/${version}` });

describe('unknown API versions', () => {
  it.each([
    ['HTTPListenerPolicy', httpListenerPolicy(), 'v1alpha2'],
    ['HTTPListenerPolicy', httpListenerPolicy(), 'v1'],
    ['AgentgatewayBackend', { apiVersion: 'agentgateway.dev/v1alpha1', kind: 'AgentgatewayBackend', metadata: { name: 'b', namespace: 'apps' }, spec: {} }, 'v1beta1'],
  ] as [string, KubeObject, string][])('/validate denies a %s at %s, naming the versions it reads', (kind, object, version) => {
    const verdict = decide(ruleSet.validating, admissionRequest(atVersion(object, version)), view);
    expect(verdict.allowed).toBe(false);
    if (verdict.allowed) return;
    expect(verdict.code).toBe(400);
    expect(verdict.message).toContain(`cannot check ${kind} at`);
    expect(verdict.message).toContain(`/${version}`);
    expect(verdict.message).toContain('only at v1alpha1');
  });

  it('/validate still reads the known versions: a granted policy is allowed, an ungranted one denied for its ref', () => {
    expect(decide(ruleSet.validating, admissionRequest(httpListenerPolicy()), InMemoryClusterView.fromObjects([referenceGrant()])).allowed).toBe(true);
    const denied = decide(ruleSet.validating, admissionRequest(httpListenerPolicy()), view);
    expect(denied.allowed).toBe(false);
    if (!denied.allowed) expect(denied.message).toContain('no ReferenceGrant allows');
  });

  it('the grant guard and the mutation refuse a Gateway API version they do not know, and read v1 and v1beta1', () => {
    const grant = referenceGrant();
    const guard = decide(ruleSet.validating, admissionRequest(null, 'DELETE', atVersion(grant, 'v2')), view);
    expect(guard).toMatchObject({ allowed: false, code: 400 });
    const mutate = decide(ruleSet.mutating, admissionRequest(gateway({ version: 'v2' })), view);
    expect(mutate).toMatchObject({ allowed: false, code: 400 });
    for (const version of ['v1', 'v1beta1']) {
      expect(decide(ruleSet.mutating, admissionRequest(gateway({ version })), view)).toMatchObject({ allowed: true, patch: [expect.anything()] });
    }
  });

  it('kinds no rule handles pass at any version', () => {
    const configMap: KubeObject = { apiVersion: 'v2', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'a' } };
    expect(decide(ruleSet.validating, admissionRequest(configMap), view).allowed).toBe(true);
    expect(decide(ruleSet.validating, admissionRequest(atVersion(gateway(), 'v9')), view).allowed).toBe(true);
  });

  it('a config row without versions, and scanKinds, are read at any version', () => {
    const settings = ruleSettings(parseConfig({ validation: { backendRefKinds: [{ group: 'example.dev', kind: 'Thing', paths: ['spec.backendRef'] }], scanKinds: [{ group: 'example.dev', kind: 'Other' }] } }));
    const known = knownVersions(settings);
    expect(known.get('gateway.kgateway.dev/HTTPListenerPolicy')).toEqual(['v1alpha1']);
    expect(known.has('example.dev/Thing')).toBe(false);
    expect(known.has('example.dev/Other')).toBe(false);
    const thing: KubeObject = { apiVersion: 'example.dev/v7', kind: 'Thing', metadata: { name: 't', namespace: 'a' }, spec: { backendRef: { name: 's', namespace: 'a' } } };
    expect(decide(buildRuleSet(settings).validating, admissionRequest(thing), view).allowed).toBe(true);
    // A config row that repeats a built-in kind without versions opens it to every version.
    const widened = ruleSettings(parseConfig({ validation: { backendRefKinds: [{ group: 'gateway.kgateway.dev', kind: 'HTTPListenerPolicy', paths: ['spec.x.backendRef'] }] } }));
    expect(knownVersions(widened).has('gateway.kgateway.dev/HTTPListenerPolicy')).toBe(false);
  });
});
