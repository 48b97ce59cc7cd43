import { describe, expect, it } from 'vitest';
import { InMemoryClusterView } from '../../../src/cluster/inMemoryClusterView.js';
import { parseConfig, ruleSettings } from '../../../src/config/config.js';
import { buildRuleSet, decide } from '../../../src/rules/ruleSet.js';
import type { KubeObject } from '../../../src/rules/types.js';
import { admissionRequest, referenceGrant } from '../../support/builders.js';

const ref = (name: string, namespace = 'auth') => ({ name, namespace, port: 9000 });
const object = (group: string, kind: string, spec: unknown): KubeObject => ({ apiVersion: `${group}/v1alpha1`, kind, metadata: { name: 'obj', namespace: 'apps' }, spec });

function validate(target: KubeObject, config: unknown = {}) {
  return decide(buildRuleSet(ruleSettings(parseConfig(config))).validating, admissionRequest(target), InMemoryClusterView.fromObjects([]));
}

// Every row of the table, with one ref at each of its locations (verified
// against the kgateway v2.2.0 CRDs): each location must be seen.
describe('backendRefs of the other kgateway and agentgateway kinds', () => {
  it.each<[string, string, unknown, string[]]>([
    [
      'gateway.kgateway.dev',
      'GatewayExtension',
      {
        extAuth: { grpcService: { backendRef: ref('a') }, httpService: { backendRef: ref('b') } },
        extProc: { grpcService: { backendRef: ref('c') } },
        jwt: { providers: [{ jwks: { remote: { backendRef: ref('d') } } }] },
        oauth2: { backendRef: ref('e') },
        rateLimit: { grpcService: { backendRef: ref('f') } },
      },
      ['a', 'b', 'c', 'd', 'e', 'f'],
    ],
    [
      'agentgateway.dev',
      'AgentgatewayPolicy',
      {
        backend: { ai: { promptGuard: { request: [{ webhook: { backendRef: ref('a') } }], response: [{ webhook: { backendRef: ref('b') } }] } }, mcp: { authentication: { jwks: { backendRef: ref('c') } } } },
        frontend: { tracing: { backendRef: ref('d') } },
        traffic: {
          extAuth: { backendRef: ref('e') },
          extProc: { backendRef: ref('f') },
          jwtAuthentication: { providers: [{ jwks: { remote: { backendRef: ref('g') } } }] },
          rateLimit: { global: { backendRef: ref('h') } },
        },
      },
      ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'],
    ],
    [
      'agentgateway.dev',
      'AgentgatewayBackend',
      {
        policies: { ai: { promptGuard: { request: [{ webhook: { backendRef: ref('a') } }], response: [{ webhook: { backendRef: ref('b') } }] } }, mcp: { authentication: { jwks: { backendRef: ref('c') } } } },
        ai: { groups: [{ providers: [{ policies: { ai: { promptGuard: { request: [{ webhook: { backendRef: ref('d') } }], response: [{ webhook: { backendRef: ref('e') } }] } } } }] }] },
        mcp: { targets: [{ static: { policies: { mcp: { authentication: { jwks: { backendRef: ref('f') } } } } } }] },
      },
      ['a', 'b', 'c', 'd', 'e', 'f'],
    ],
  ])('%s %s', (group, kind, spec, names) => {
    const verdict = validate(object(group, kind, spec));
    expect(verdict.allowed).toBe(false);
    for (const name of names) expect(verdict.message).toContain(`Service auth/${name}\n`.trimEnd());
    expect(verdict.message!.match(/^- /gm)).toHaveLength(names.length);
    const grant = referenceGrant({ namespace: 'auth', from: [{ group, kind, namespace: 'apps' }], to: [{}] });
    delete (grant.spec as { to: { name?: string }[] }).to[0]!.name;
    const view = InMemoryClusterView.fromObjects([grant]);
    expect(decide(buildRuleSet(ruleSettings(parseConfig({}))).validating, admissionRequest(object(group, kind, spec)), view).allowed).toBe(true);
  });

  it('leaves TrafficPolicy extensionRefs alone: kgateway fetches GatewayExtensions without a grant check', () => {
    expect(validate(object('gateway.kgateway.dev', 'TrafficPolicy', { extAuth: { extensionRef: { name: 'x', namespace: 'auth' } } })).allowed).toBe(true);
  });

  it('searches the whole spec of a configured scan kind for backendRef and backendRefs', () => {
    const spec = { deep: { nested: [{ backendRef: ref('one') }] }, backendRefs: [ref('two'), 'junk', ref('local', 'apps')] };
    const custom = object('example.com', 'Thing', spec);
    expect(validate(custom).allowed).toBe(true);
    const verdict = validate(custom, { validation: { scanKinds: [{ group: 'example.com', kind: 'Thing' }] } });
    expect(verdict.allowed).toBe(false);
    expect(verdict.message).toContain('- spec.deep.nested[0].backendRef: Service auth/one');
    expect(verdict.message).toContain('- spec.backendRefs[0]: Service auth/two');
    expect(verdict.message).not.toContain('local');
  });

  it('adds no line to a denial for a kind, group or field name holding newlines (a scanned CRD without enum limits): denied as unmatchable, quoted', () => {
    const injected = 'Service\n- spec.injected: Service monitoring/looks-ungranted\nCreate this ReferenceGrant in namespace evil to allow it:';
    const spec = {
      byKind: { backendRef: { ...ref('one'), kind: injected } },
      byGroup: { backendRef: { ...ref('two'), group: 'example.com\nforged line' } },
      'field\nforged: Service auth/x': { backendRef: ref('three') },
    };
    const verdict = validate(object('example.com', 'Thing', spec), { validation: { scanKinds: [{ group: 'example.com', kind: 'Thing' }] } });
    expect(verdict.allowed).toBe(false);
    const lines = verdict.message!.split('\n');
    expect(lines).toEqual([
      'Thing apps/obj has backendRefs into other namespaces that no object can match:',
      `- spec.byKind.backendRef: kind ${JSON.stringify(injected.slice(0, 80) + '…')} is not a valid kind (at most 63 letters, digits or '-', starting with a letter and ending with a letter or digit)`,
      `- spec.byGroup.backendRef: group "example.com\\nforged line" is not a valid API group (empty for the core group, or an RFC 1123 subdomain: lowercase letters, digits, '-' and '.')`,
    ]);
    // A field name is quoted where a location shows it; this ref itself is well formed, so it meets the grant check.
    const byField = validate(object('example.com', 'Thing', { 'field\nforged: Service auth/x': spec['field\nforged: Service auth/x'] }), {
      validation: { scanKinds: [{ group: 'example.com', kind: 'Thing' }] },
    });
    expect(byField.message).toContain('- spec["field\\nforged: Service auth/x"].backendRef: Service auth/three');
    expect(byField.message!.split('\n').filter((l) => l.startsWith('forged'))).toEqual([]);
  });

  it('prefers a table row over a scan of the same kind', () => {
    const policy = object('gateway.kgateway.dev', 'HTTPListenerPolicy', { somewhere: { backendRef: ref('ignored') } });
    expect(validate(policy, { validation: { scanKinds: [{ group: 'gateway.kgateway.dev', kind: 'HTTPListenerPolicy' }] } }).allowed).toBe(true);
  });

  it('bounds the scan of a deeply nested spec and denies what it could not read', () => {
    const nested = (levels: number) => {
      let deep: Record<string, unknown> = { backendRef: ref('bottom', 'apps') };
      for (let i = 0; i < levels; i++) deep = { next: deep };
      return deep;
    };
    const scan = { validation: { scanKinds: [{ group: 'example.com', kind: 'Thing' }] } };
    expect(validate(object('example.com', 'Thing', nested(30)), scan).allowed).toBe(true);
    const verdict = validate(object('example.com', 'Thing', nested(5000)), scan);
    expect(verdict.allowed).toBe(false);
    expect(verdict.message).toContain('nests deeper than 64 levels');
  });
});
