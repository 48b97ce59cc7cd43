import fastJsonPatch from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { InMemoryClusterView } from '../../../src/cluster/inMemoryClusterView.js';
import { parseConfig, ruleSettings } from '../../../src/config/config.js';
import { buildRuleSet, decide } from '../../../src/rules/ruleSet.js';
import type { KubeObject, Operation } from '../../../src/rules/types.js';
import { admissionRequest, gateway, gatewayClass } from '../../support/builders.js';

const defaults = buildRuleSet(ruleSettings(parseConfig({}))).mutating;
const OTEL_REF = { group: 'gateway.kgateway.dev', kind: 'GatewayParameters', name: 'agentgateway-otel' };
const MISSING_WARNING = 'parametersRef not added: create GatewayParameters kgateway/agentgateway-otel, then re-apply the Gateway';

function mutate(object: KubeObject, options: { operation?: Operation; view?: KubeObject[]; rules?: typeof defaults } = {}) {
  const verdict = decide(options.rules ?? defaults, admissionRequest(object, options.operation ?? 'CREATE'), InMemoryClusterView.fromObjects(options.view ?? []));
  const result = fastJsonPatch.applyPatch(structuredClone(object), fastJsonPatch.deepClone(verdict.patch), true, false).newDocument;
  return { verdict, result };
}

describe('agentgateway Gateways get the OTEL parametersRef', () => {
  it.each(['v1', 'v1beta1'])('adds spec.infrastructure whole to a %s Gateway that has none', (version) => {
    const { verdict, result } = mutate(gateway({ version }));
    expect(verdict.patch).toEqual([{ op: 'add', path: '/spec/infrastructure', value: { parametersRef: OTEL_REF } }]);
    expect(result).toEqual({ ...gateway({ version }), spec: { ...(gateway().spec as object), infrastructure: { parametersRef: OTEL_REF } } });
  });

  it('adds only parametersRef when infrastructure exists, leaving its labels and annotations alone', () => {
    const infrastructure = { labels: { team: 'ai' }, annotations: { note: 'keep' } };
    const { verdict, result } = mutate(gateway({ spec: { infrastructure } }));
    expect(verdict.patch).toEqual([{ op: 'add', path: '/spec/infrastructure/parametersRef', value: OTEL_REF }]);
    expect((result.spec as { infrastructure: unknown }).infrastructure).toEqual({ ...infrastructure, parametersRef: OTEL_REF });
  });

  it('never overwrites an explicit parametersRef', () => {
    const own = { group: 'gateway.kgateway.dev', kind: 'GatewayParameters', name: 'mine' };
    const { verdict } = mutate(gateway({ spec: { infrastructure: { parametersRef: own } } }));
    expect(verdict).toEqual({ allowed: true, patch: [], warnings: [] });
  });

  it('puts the ref back when an UPDATE removes it', () => {
    const { verdict, result } = mutate(gateway({ spec: { infrastructure: { labels: { a: 'b' } } } }), { operation: 'UPDATE' });
    expect(verdict.allowed).toBe(true);
    expect((result.spec as { infrastructure: { parametersRef: unknown } }).infrastructure.parametersRef).toEqual(OTEL_REF);
  });

  it('leaves other classes alone', () => {
    expect(mutate(gateway({ className: 'kgateway' })).verdict.patch).toEqual([]);
  });

  it.each([
    ['"true" opts out', 'true', 0],
    ['"false" does not', 'false', 1],
    ['any other value does not', 'yes', 1],
  ])('skip annotation %s', (_name, value, patches) => {
    const { verdict } = mutate(gateway({ annotations: { 'kgateway-admission.dev/skip': value } }));
    expect(verdict.patch).toHaveLength(patches);
  });

  it.each<[string, string, boolean]>([
    ['kgateway-v2.1', 'kgateway.dev/agentgateway', true],
    ['kgateway-v2.1', 'agentgateway.dev/agentgateway', false],
    ['kgateway-v2.1', 'kgateway.dev/kgateway', false],
    ['agentgateway-v2.2', 'agentgateway.dev/agentgateway', true],
    ['agentgateway-v2.2', 'kgateway.dev/agentgateway', true],
    ['agentgateway-v2.2', 'kgateway.dev/kgateway', false],
  ])('profile %s: a class run by %s is agentgateway: %s', (profile, controller, expected) => {
    const rules = buildRuleSet(ruleSettings(parseConfig({ profile }))).mutating;
    const own = gateway({ className: 'ai-gateways' });
    expect(mutate(own, { rules }).verdict.patch).toEqual([]);
    expect(mutate(own, { rules, view: [gatewayClass('ai-gateways', controller)] }).verdict.patch).toHaveLength(expected ? 1 : 0);
  });

  it('points agentgateway-v2.2 Gateways at AgentgatewayParameters', () => {
    const rules = buildRuleSet(ruleSettings(parseConfig({ profile: 'agentgateway-v2.2' }))).mutating;
    expect(mutate(gateway(), { rules }).verdict.patch).toEqual([
      { op: 'add', path: '/spec/infrastructure', value: { parametersRef: { group: 'agentgateway.dev', kind: 'AgentgatewayParameters', name: 'agentgateway-otel' } } },
    ]);
  });

  it('leaves the Gateway untouched and says what to do, briefly, when the parameters object is not in its namespace (the deployer would refuse the ref)', () => {
    const params = (namespace: string) => ({ apiVersion: 'gateway.kgateway.dev/v1alpha1', kind: 'GatewayParameters', metadata: { name: 'agentgateway-otel', namespace } });
    const tracked = { trackedKinds: [{ group: 'gateway.kgateway.dev', kind: 'GatewayParameters' }] };
    const decideWith = (objects: KubeObject[], options = tracked) =>
      decide(defaults, admissionRequest(gateway()), InMemoryClusterView.fromObjects(objects, options));
    const missing = decideWith([params('elsewhere')]);
    expect(missing.allowed).toBe(true);
    expect(missing.patch).toEqual([]);
    expect(missing.warnings).toEqual([MISSING_WARNING]);
    expect(missing.warnings[0]!.length).toBeLessThan(120);
    const present = decideWith([params('kgateway')]);
    expect(present.patch).toHaveLength(1);
    expect(present.warnings).toEqual([]);
    // A view that does not track the kind cannot tell: it adds the ref, as before.
    const untracked = decideWith([], {} as typeof tracked);
    expect(untracked.patch).toHaveLength(1);
    expect(untracked.warnings).toEqual([]);
    const quiet = buildRuleSet(ruleSettings(parseConfig({ validation: { missingParametersWarning: false } }))).mutating;
    const quietMissing = decide(quiet, admissionRequest(gateway()), InMemoryClusterView.fromObjects([], tracked));
    expect(quietMissing.patch).toEqual([]);
    expect(quietMissing.warnings).toEqual([]);
  });

  it('with copyParameters on, adds the ref where the object is missing as long as the source exists (the copier puts a copy there)', () => {
    const params = (namespace: string) => ({ apiVersion: 'gateway.kgateway.dev/v1alpha1', kind: 'GatewayParameters', metadata: { name: 'agentgateway-otel', namespace } });
    const tracked = { trackedKinds: [{ group: 'gateway.kgateway.dev', kind: 'GatewayParameters' }] };
    const rules = buildRuleSet(ruleSettings(parseConfig({ mutation: { copyParameters: { enabled: true } } }), undefined, 'kga-system')).mutating;
    const withSource = decide(rules, admissionRequest(gateway()), InMemoryClusterView.fromObjects([params('kga-system')], tracked));
    expect(withSource.patch).toHaveLength(1);
    expect(withSource.warnings).toEqual([]);
    // No source to copy: no copy will come, so no ref either.
    const noSource = decide(rules, admissionRequest(gateway()), InMemoryClusterView.fromObjects([params('elsewhere')], tracked));
    expect(noSource.patch).toEqual([]);
    expect(noSource.warnings).toEqual([MISSING_WARNING]);
    // sourceNamespace from the config wins over the webhook's own namespace.
    const configured = buildRuleSet(ruleSettings(parseConfig({ mutation: { copyParameters: { enabled: true, sourceNamespace: 'elsewhere' } } }), undefined, 'kga-system')).mutating;
    expect(decide(configured, admissionRequest(gateway()), InMemoryClusterView.fromObjects([params('elsewhere')], tracked)).patch).toHaveLength(1);
  });

  it('uses the configured classes and parametersRef', () => {
    const rules = buildRuleSet(
      ruleSettings(parseConfig({ mutation: { gatewayClassNames: ['ai'], parametersRef: { group: 'agentgateway.dev', kind: 'AgentgatewayParameters', name: 'otel' } } })),
    ).mutating;
    expect(mutate(gateway(), { rules }).verdict.patch).toEqual([]);
    const { result } = mutate(gateway({ className: 'ai' }), { rules });
    expect((result.spec as { infrastructure: unknown }).infrastructure).toEqual({
      parametersRef: { group: 'agentgateway.dev', kind: 'AgentgatewayParameters', name: 'otel' },
    });
  });

  it('lets DELETE through untouched and ignores other kinds', () => {
    const view = InMemoryClusterView.fromObjects([]);
    expect(decide(defaults, admissionRequest(null, 'DELETE', gateway()), view)).toEqual({ allowed: true, patch: [], warnings: [] });
    const route = { ...gateway(), kind: 'HTTPRoute' };
    expect(decide(defaults, admissionRequest(route), view).patch).toEqual([]);
  });

  it('replaces a null infrastructure and ignores a Gateway without a spec', () => {
    const { result } = mutate(gateway({ spec: { infrastructure: null } }));
    expect((result.spec as { infrastructure: unknown }).infrastructure).toEqual({ parametersRef: OTEL_REF });
    const bare: KubeObject = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'x', namespace: 'y' } };
    expect(mutate(bare).verdict.patch).toEqual([]);
  });
});

describe('a Gateway whose GatewayClass has its own parametersRef', () => {
  const classRefs = {
    'kgateway-v2.1': { group: 'gateway.kgateway.dev', kind: 'GatewayParameters', name: 'class-params', namespace: 'kgateway-system' },
    'agentgateway-v2.2': { group: 'agentgateway.dev', kind: 'AgentgatewayParameters', name: 'class-params', namespace: 'kgateway-system' },
  } as const;
  const controllers = { 'kgateway-v2.1': 'kgateway.dev/agentgateway', 'agentgateway-v2.2': 'agentgateway.dev/agentgateway' } as const;
  const ours = (profile: keyof typeof classRefs) =>
    profile === 'kgateway-v2.1' ? OTEL_REF : { group: 'agentgateway.dev', kind: 'AgentgatewayParameters', name: 'agentgateway-otel' };

  // class has a parametersRef × mode × profile → what happens.
  it.each<[keyof typeof classRefs, boolean, 'auto' | 'skip' | 'add', 'patched' | 'patched+warned' | 'skipped']>([
    ['kgateway-v2.1', false, 'auto', 'patched'],
    ['kgateway-v2.1', false, 'skip', 'patched'],
    ['kgateway-v2.1', false, 'add', 'patched'],
    ['kgateway-v2.1', true, 'auto', 'skipped'],
    ['kgateway-v2.1', true, 'skip', 'skipped'],
    ['kgateway-v2.1', true, 'add', 'patched+warned'],
    ['agentgateway-v2.2', false, 'auto', 'patched'],
    ['agentgateway-v2.2', false, 'skip', 'patched'],
    ['agentgateway-v2.2', false, 'add', 'patched'],
    ['agentgateway-v2.2', true, 'auto', 'patched+warned'],
    ['agentgateway-v2.2', true, 'skip', 'skipped'],
    ['agentgateway-v2.2', true, 'add', 'patched+warned'],
  ])('profile %s, class parametersRef %s, classParameters %s: %s', (profile, classHasRef, classParameters, outcome) => {
    const rules = buildRuleSet(ruleSettings(parseConfig({ profile, mutation: { classParameters } }))).mutating;
    const cls = gatewayClass('agentgateway', controllers[profile], classHasRef ? classRefs[profile] : undefined);
    const { verdict, result } = mutate(gateway(), { rules, view: [cls] });
    const kind = classRefs[profile].kind;
    if (outcome === 'skipped') {
      expect(verdict).toEqual({
        allowed: true,
        patch: [],
        warnings: [`parametersRef not added, could replace GatewayClass agentgateway's ${kind} kgateway-system/class-params`],
      });
      return;
    }
    expect((result.spec as { infrastructure: unknown }).infrastructure).toEqual({ parametersRef: ours(profile) });
    expect(verdict.warnings).toEqual(
      outcome === 'patched+warned' ? [`parametersRef added; it and GatewayClass agentgateway's ${kind} kgateway-system/class-params both apply`] : [],
    );
  });

  it('keeps each warning within the 120 characters the API server recommends, for usual names', () => {
    for (const profile of ['kgateway-v2.1', 'agentgateway-v2.2'] as const) {
      for (const classParameters of ['skip', 'add'] as const) {
        const rules = buildRuleSet(ruleSettings(parseConfig({ profile, mutation: { classParameters } }))).mutating;
        const { verdict } = mutate(gateway(), { rules, view: [gatewayClass('agentgateway', controllers[profile], classRefs[profile])] });
        expect(verdict.warnings).toHaveLength(1);
        expect(verdict.warnings[0]!.length).toBeLessThanOrEqual(120);
      }
    }
  });

  it('names a class ref without a namespace by its name alone', () => {
    const rules = buildRuleSet(ruleSettings(parseConfig({ mutation: { classParameters: 'skip' } }))).mutating;
    const cls = gatewayClass('agentgateway', 'kgateway.dev/agentgateway', { group: 'example.com', kind: 'ProxyConfig', name: 'big' });
    expect(mutate(gateway(), { rules, view: [cls] }).verdict.warnings).toEqual(["parametersRef not added, could replace GatewayClass agentgateway's ProxyConfig big"]);
  });

  it('says nothing of the class when the Gateway already has its own ref, is opted out, or is of another class', () => {
    const rules = buildRuleSet(ruleSettings(parseConfig({ mutation: { classParameters: 'skip' } }))).mutating;
    const view = [gatewayClass('agentgateway', 'kgateway.dev/agentgateway', classRefs['kgateway-v2.1']), gatewayClass('envoy', 'kgateway.dev/kgateway', classRefs['kgateway-v2.1'])];
    const own = gateway({ spec: { infrastructure: { parametersRef: { group: 'gateway.kgateway.dev', kind: 'GatewayParameters', name: 'mine' } } } });
    expect(mutate(own, { rules, view }).verdict).toEqual({ allowed: true, patch: [], warnings: [] });
    expect(mutate(gateway({ annotations: { 'kgateway-admission.dev/skip': 'true' } }), { rules, view }).verdict).toEqual({ allowed: true, patch: [], warnings: [] });
    expect(mutate(gateway({ className: 'envoy' }), { rules, view }).verdict).toEqual({ allowed: true, patch: [], warnings: [] });
  });

  it('in add mode, a missing parameters object still keeps the ref off', () => {
    const rules = buildRuleSet(ruleSettings(parseConfig({ mutation: { classParameters: 'add' } }))).mutating;
    const objects = [gatewayClass('agentgateway', 'kgateway.dev/agentgateway', classRefs['kgateway-v2.1'])];
    const view = InMemoryClusterView.fromObjects(objects, { trackedKinds: [{ group: 'gateway.kgateway.dev', kind: 'GatewayParameters' }] });
    // Not added after all: only the missing object's warning (the class's would say it was added).
    expect(decide(rules, admissionRequest(gateway()), view)).toMatchObject({ patch: [], warnings: [MISSING_WARNING] });
  });
});
