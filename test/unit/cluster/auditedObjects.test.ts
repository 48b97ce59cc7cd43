// The reports audit the live view's copies of the objects (issue 21 item 4):
// those copies keep only what the rules read, and the rules must decide on
// them exactly as on the whole objects.
import { describe, expect, it } from 'vitest';
import { auditObjects } from '../../../src/audit/clusterAudit.js';
import { AuditedObjects, ruleInputSlimmer } from '../../../src/cluster/auditedObjects.js';
import { InMemoryClusterView, viewOptionsFor } from '../../../src/cluster/inMemoryClusterView.js';
import { parseConfig, ruleSettings } from '../../../src/config/config.js';
import { buildRuleSet } from '../../../src/rules/ruleSet.js';
import type { KubeObject } from '../../../src/rules/types.js';
import { backendRef, gateway, gatewayClass, httpListenerPolicy, listenerPolicy, referenceGrant } from '../../support/builders.js';

const settings = ruleSettings(parseConfig({ validation: { scanKinds: [{ group: 'x.dev', kind: 'Scanned' }] } }), 'agentgateway-v2.2');
const big = 'x'.repeat(200_000);

function backend(name: string, refs: Record<string, unknown>[], extra: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'agentgateway.dev/v1alpha1',
    kind: 'AgentgatewayBackend',
    metadata: { name, namespace: 'team-a', uid: `uid-${name}`, annotations: { big }, labels: { app: 'x' }, managedFields: [{ manager: big }] },
    spec: { ai: { groups: [{ providers: refs.map((ref) => ({ policies: { ai: { promptGuard: { request: [{ webhook: { backendRef: ref } }] } } } })) }] }, static: { host: big }, ...extra },
  };
}

function scanned(name: string, spec: unknown): KubeObject {
  return { apiVersion: 'x.dev/v1', kind: 'Scanned', metadata: { name, namespace: 'team-a' }, spec };
}

function deep(levels: number): Record<string, unknown> {
  let node: Record<string, unknown> = { backendRef: backendRef() };
  for (let i = 0; i < levels; i++) node = { inner: node };
  return node;
}

const objects: KubeObject[] = [
  httpListenerPolicy({ name: 'ungranted' }),
  httpListenerPolicy({ name: 'granted', otelAccessLogRefs: [backendRef({ name: 'allowed' })], tracingRef: backendRef({ namespace: 'team-a', name: 'local' }) }),
  listenerPolicy({ name: 'ports', perPortRefs: [backendRef(), backendRef({ name: 'allowed' }), backendRef({ namespace: 'Not_A_Namespace' })] }),
  backend('many', [backendRef({ name: 'a' }), { ...backendRef({ name: 'b', kind: 'AgentgatewayBackend', group: 'agentgateway.dev' }), extra: big }, backendRef({ namespace: 'team-a' })]),
  backend('none', []),
  scanned('scan', { a: [{ backendRefs: [backendRef(), { backendRef: backendRef({ name: 'nested' }), ...backendRef({ name: 'outer' }) }] }, { other: big }], b: { backendRef: backendRef({ name: 'allowed' }) } }),
  scanned('too-deep', deep(70)),
  scanned('deep-enough', deep(40)),
  gateway({ name: 'bare', spec: { listeners: [{ name: big }] } }),
  gateway({ name: 'skipped', annotations: { 'kgateway-admission.dev/skip': 'true', big } }),
  gateway({ name: 'dangling', spec: { infrastructure: { labels: { big }, parametersRef: { group: 'agentgateway.dev', kind: 'AgentgatewayParameters', name: 'nowhere' } } } }),
  gateway({ name: 'infra-no-ref', spec: { infrastructure: { annotations: { a: 'b' } } } }),
  gateway({ name: 'custom-class', className: 'team-class' }),
  gateway({ name: 'envoy', className: 'kgateway' }),
];
const context: KubeObject[] = [
  referenceGrant({ name: 'allow', to: [{ name: 'allowed' }] }),
  gatewayClass('team-class', 'agentgateway.dev/agentgateway', { group: 'agentgateway.dev', kind: 'AgentgatewayParameters', name: 'class-params', namespace: 'ops' }),
];

describe('ruleInputSlimmer: the part of an object the rules read', () => {
  const view = InMemoryClusterView.fromObjects([...context, ...objects], viewOptionsFor(settings));
  const slim = ruleInputSlimmer(settings);

  it.each([['add'], ['skip']] as const)('the audit of the slim copies finds exactly what it finds on the whole objects (classParameters %s)', (classParameters) => {
    const s = { ...settings, classParameters };
    const audit = (list: KubeObject[]) => auditObjects(list, buildRuleSet(s), s, view);
    const whole = audit(objects);
    expect(whole.length).toBeGreaterThan(5);
    expect(audit(objects.map((o) => slim(o)!))).toEqual(whole);
  });

  it('keeps a few hundred bytes of an object of megabytes', () => {
    for (const object of objects) {
      const copy = slim(object)!;
      expect(copy, object.metadata!.name).toBeDefined();
      expect(JSON.stringify(copy).length, object.metadata!.name).toBeLessThan(12_000);
      expect(copy.metadata!.uid).toBe(object.metadata!.uid);
    }
    expect(JSON.stringify(objects).length).toBeGreaterThan(2_000_000);
  });

  it('other kinds are not kept', () => {
    expect(slim(referenceGrant({ name: 'g' }))).toBeUndefined();
    expect(slim({ apiVersion: 'agentgateway.dev/v1alpha1', kind: 'AgentgatewayParameters', metadata: { name: 'p' } })).toBeUndefined();
  });
});

describe('AuditedObjects', () => {
  it('holds one slim copy per object, replaced on update, gone on delete, listed per kind for a re-list', () => {
    const held = new AuditedObjects(settings);
    for (const object of [...objects, ...context]) held.upsert(object);
    expect(held.size).toBe(objects.length);
    held.upsert(httpListenerPolicy({ name: 'ungranted', otelAccessLogRefs: [] }));
    expect(held.size).toBe(objects.length);
    held.remove(gateway({ name: 'bare' }));
    expect([...held.held('gateway.networking.k8s.io', 'Gateway')].map((k) => k.name)).toEqual(['skipped', 'dangling', 'infra-no-ref', 'custom-class', 'envoy']);
    expect([...held.values()].find((o) => o.metadata?.name === 'ungranted')!.spec).toEqual({});
  });
});
