import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { InMemoryClusterView } from '../../../src/cluster/inMemoryClusterView.js';
import { ruleSettings, parseConfig } from '../../../src/config/config.js';
import { buildRuleSet, decide } from '../../../src/rules/ruleSet.js';
import type { KubeObject } from '../../../src/rules/types.js';
import { admissionRequest, backendRef, httpListenerPolicy, listenerPolicy, referenceGrant } from '../../support/builders.js';

const rules = buildRuleSet(ruleSettings(parseConfig({}))).validating;

function validate(object: KubeObject, grants: KubeObject[], operation: 'CREATE' | 'UPDATE' = 'CREATE') {
  return decide(rules, admissionRequest(object, operation), InMemoryClusterView.fromObjects(grants));
}

// Table written from Gateway API GEP-709: a grant lives in the target's
// namespace, its `from` must match the referrer's group, kind and namespace,
// and one of its `to` entries the target's group and kind, with an empty name
// allowing every object of that kind.
describe('cross-namespace backendRefs need a ReferenceGrant (GEP-709)', () => {
  it.each<[string, KubeObject[], boolean]>([
    ['no grant at all', [], false],
    ['the matching grant of the brief', [referenceGrant()], true],
    ['the matching grant served as v1', [referenceGrant({ version: 'v1' })], true],
    ['grant in the referrer namespace instead of the target', [referenceGrant({ namespace: 'kgateway' })], false],
    ['grant in an unrelated namespace', [referenceGrant({ namespace: 'other' })], false],
    ['from group differs', [referenceGrant({ from: [{ group: 'gateway.networking.k8s.io' }] })], false],
    ['from kind differs', [referenceGrant({ from: [{ kind: 'TrafficPolicy' }] })], false],
    ['from namespace differs', [referenceGrant({ from: [{ namespace: 'apps' }] })], false],
    ['to name differs', [referenceGrant({ to: [{ name: 'other-collector' }] })], false],
    ['to name empty allows every Service', [referenceGrant({ to: [{ name: '' }] })], true],
    ['to name absent allows every Service', [{ ...referenceGrant(), spec: { from: [{ group: 'gateway.kgateway.dev', kind: 'HTTPListenerPolicy', namespace: 'kgateway' }], to: [{ group: '', kind: 'Service' }] } }], true],
    ['to kind differs', [referenceGrant({ to: [{ kind: 'Secret', name: '' }] })], false],
    ['to group differs', [referenceGrant({ to: [{ group: 'gateway.kgateway.dev' }] })], false],
    [
      'several from and to entries, one pair matching',
      [referenceGrant({ from: [{ kind: 'TrafficPolicy' }, {}], to: [{ kind: 'Secret', name: 'x' }, {}] })],
      true,
    ],
    [
      'from of one grant and to of another do not combine',
      [
        referenceGrant({ name: 'a', to: [{ kind: 'Secret' }] }),
        referenceGrant({ name: 'b', from: [{ namespace: 'apps' }] }),
      ],
      false,
    ],
    ['a matching grant beside a non-matching one', [referenceGrant({ name: 'a', to: [{ name: 'x' }] }), referenceGrant({ name: 'b' })], true],
  ])('%s', (_name, grants, expectAllowed) => {
    const verdict = validate(httpListenerPolicy(), grants);
    expect(verdict.allowed).toBe(expectAllowed);
    if (!expectAllowed) {
      expect(verdict.code).toBe(403);
      expect(verdict.message).toContain('Service monitoring/otel-collector-collector');
    }
  });

  it('needs no grant for a ref in the policy namespace, explicit or defaulted', () => {
    const policy = httpListenerPolicy({
      otelAccessLogRefs: [backendRef({ namespace: 'kgateway' }), { name: 'local-collector', port: 4317 }],
    });
    expect(validate(policy, []).allowed).toBe(true);
  });

  it('takes the policy namespace from the request when the object has none', () => {
    const policy = httpListenerPolicy({ otelAccessLogRefs: [{ name: 'collector', port: 4317 }] });
    delete policy.metadata!.namespace;
    const request = { ...admissionRequest(policy), namespace: 'kgateway' };
    expect(decide(rules, request, InMemoryClusterView.fromObjects([])).allowed).toBe(true);
  });

  it('defaults a ref to the core Service kind, and checks Backend refs by their own group and kind', () => {
    const backend = backendRef({ group: 'gateway.kgateway.dev', kind: 'Backend', name: 'collector-backend' });
    const policy = httpListenerPolicy({ otelAccessLogRefs: [backend] });
    expect(validate(policy, [referenceGrant({ to: [{ name: '' }] })]).allowed).toBe(false);
    const verdict = validate(policy, [referenceGrant({ to: [{ group: 'gateway.kgateway.dev', kind: 'Backend', name: 'collector-backend' }] })]);
    expect(verdict.allowed).toBe(true);
    expect(validate(policy, []).message).toContain('Backend.gateway.kgateway.dev monitoring/collector-backend');
  });

  it('checks all three HTTPListenerPolicy locations and names only the refs that lack a grant', () => {
    const policy = httpListenerPolicy({
      accessLogRefs: [backendRef({ name: 'grpc-sink', namespace: 'logging' })],
      otelAccessLogRefs: [backendRef()],
      tracingRef: backendRef({ name: 'tempo', namespace: 'tracing' }),
    });
    const verdict = validate(policy, [referenceGrant()]);
    expect(verdict.allowed).toBe(false);
    expect(verdict.message).toContain('- spec.accessLog[0].grpcService.backendRef: Service logging/grpc-sink');
    expect(verdict.message).toContain('- spec.tracing.provider.openTelemetry.grpcService.backendRef: Service tracing/tempo');
    expect(verdict.message).not.toContain('otel-collector-collector');
    expect(verdict.message).toContain('Create these 2 ReferenceGrants, one per target, in namespaces logging, tracing to allow them:');
  });

  it('checks ListenerPolicy default and per-port httpSettings', () => {
    const grantFor = (kind: string) => referenceGrant({ from: [{ kind }] });
    const perPort = listenerPolicy({ perPortRefs: [backendRef({ namespace: 'kgateway' }), backendRef()] });
    const missing = validate(perPort, [grantFor('HTTPListenerPolicy')]);
    expect(missing.allowed).toBe(false);
    expect(missing.message).toContain('spec.perPort[1].listener.httpSettings.accessLog[0].openTelemetry.grpcService.backendRef');
    expect(validate(perPort, [grantFor('ListenerPolicy')]).allowed).toBe(true);
    const byDefault = listenerPolicy({ defaultRef: backendRef() });
    expect(validate(byDefault, []).message).toContain('spec.default.httpSettings.accessLog[0]');
    expect(validate(byDefault, [grantFor('ListenerPolicy')]).allowed).toBe(true);
  });

  it('validates UPDATE like CREATE, and lets DELETE and CONNECT through untouched', () => {
    expect(validate(httpListenerPolicy(), [], 'UPDATE').allowed).toBe(false);
    const view = InMemoryClusterView.fromObjects([]);
    for (const operation of ['DELETE', 'CONNECT'] as const) {
      const verdict = decide(rules, admissionRequest(null, operation, httpListenerPolicy()), view);
      expect(verdict).toEqual({ allowed: true, patch: [], warnings: [] });
    }
  });

  describe('an UPDATE of an object already being deleted', () => {
    const deleting = (refs: Record<string, unknown>[], finalizers: string[]): KubeObject => {
      const policy = httpListenerPolicy({ otelAccessLogRefs: refs });
      policy.metadata = { ...policy.metadata, deletionTimestamp: '2026-01-01T00:00:00Z', finalizers };
      return policy;
    };
    const granted = backendRef();
    const ungranted = backendRef({ name: 'elsewhere', namespace: 'tracing' });
    const grants = [referenceGrant()];
    // Kubernetes accepts spec edits while deletionTimestamp is set (only new
    // finalizers are refused), so a finalizer of one's own holds the object
    // open for any edit: only refs it already had may pass unchecked.
    it.each<[string, Record<string, unknown>[] | null, Record<string, unknown>[], string[], boolean]>([
      ['removing the last finalizer, refs unchanged (one ungranted since before)', [ungranted], [ungranted], [], true],
      ['removing one of two finalizers', [granted, ungranted], [granted, ungranted], ['a.example/x'], true],
      ['adding an ungranted ref', [granted], [granted, ungranted], ['a.example/x'], false],
      ['replacing a ref by an ungranted one', [granted], [ungranted], ['a.example/x'], false],
      ['adding a granted ref', [ungranted], [ungranted, granted], ['a.example/x'], true],
      ['moving an old ref to another position', [granted, ungranted], [ungranted, granted], ['a.example/x'], true],
      ['removing an ungranted ref', [granted, ungranted], [granted], ['a.example/x'], true],
      ['no old object to compare with: every ref is checked', null, [ungranted], [], false],
    ])('%s', (_name, oldRefs, newRefs, finalizers, expectAllowed) => {
      const old = oldRefs === null ? null : deleting(oldRefs, ['a.example/x', 'b.example/y']);
      const request = admissionRequest(deleting(newRefs, finalizers), 'UPDATE', old);
      const verdict = decide(rules, request, InMemoryClusterView.fromObjects(grants));
      expect(verdict.allowed).toBe(expectAllowed);
      if (!expectAllowed) expect(verdict.message).toContain('Service tracing/elsewhere');
      else expect(verdict).toEqual({ allowed: true, patch: [], warnings: [] });
    });

    it('lets a malformed ref the object always had stay while its finalizer goes, and refuses a new one', () => {
      const malformed = backendRef({ namespace: 'Not_A_Namespace' });
      const view = InMemoryClusterView.fromObjects([]);
      const old = deleting([malformed], ['a.example/x']);
      expect(decide(rules, admissionRequest(deleting([malformed], []), 'UPDATE', old), view).allowed).toBe(true);
      const added = decide(rules, admissionRequest(deleting([malformed, backendRef({ namespace: 'Also_Bad' })], ['a.example/x']), 'UPDATE', old), view);
      expect(added.allowed).toBe(false);
      expect(added.message).toContain('Also_Bad');
    });

    it('names only the new ungranted ref, not the old ones', () => {
      const old = deleting([ungranted], ['a.example/x']);
      const added = backendRef({ name: 'added', namespace: 'tracing' });
      const verdict = decide(rules, admissionRequest(deleting([ungranted, added], ['a.example/x']), 'UPDATE', old), InMemoryClusterView.fromObjects([]));
      expect(verdict.allowed).toBe(false);
      expect(verdict.message).toContain('Service tracing/added');
      expect(verdict.message).not.toContain('Service tracing/elsewhere');
    });
  });

  it('ignores kinds that are not in the table', () => {
    const other = { ...httpListenerPolicy(), kind: 'TrafficPolicyX' };
    expect(validate(other, []).allowed).toBe(true);
  });

  it('suggests one ReferenceGrant per missing target, shows the same ones as YAML in the message, and they admit the policy', () => {
    const policy = httpListenerPolicy({
      otelAccessLogRefs: [backendRef(), backendRef({ name: 'second' }), backendRef({ name: 'tempo', namespace: 'tracing' }), backendRef()],
    });
    const verdict = validate(policy, []);
    expect(verdict.allowed).toBe(false);
    const suggestions = verdict.suggestions!;
    expect(suggestions.map((g) => `${g.metadata?.namespace}/${g.metadata?.name}`)).toEqual([
      expect.stringMatching(/^monitoring\/allow-httplistenerpolicy-from-kgateway-to-service-otel-collector-collector-[0-9a-f]{8}$/),
      expect.stringMatching(/^monitoring\/allow-httplistenerpolicy-from-kgateway-to-service-second-[0-9a-f]{8}$/),
      expect.stringMatching(/^tracing\/allow-httplistenerpolicy-from-kgateway-to-service-tempo-[0-9a-f]{8}$/),
    ]);
    expect(suggestions[0]).toEqual({
      apiVersion: 'gateway.networking.k8s.io/v1beta1',
      kind: 'ReferenceGrant',
      metadata: { name: expect.stringMatching(/^allow-httplistenerpolicy-from-kgateway-to-service-otel-collector-collector-[0-9a-f]{8}$/), namespace: 'monitoring' },
      spec: {
        from: [{ group: 'gateway.kgateway.dev', kind: 'HTTPListenerPolicy', namespace: 'kgateway' }],
        to: [{ group: '', kind: 'Service', name: 'otel-collector-collector' }],
      },
    });
    expect(verdict.message).toContain('Create these 3 ReferenceGrants, one per target, in namespaces monitoring, tracing to allow them:');
    const yamlText = verdict.message!.slice(verdict.message!.indexOf('apiVersion:'));
    expect(yamlText.split('\n---\n').map((doc) => parse(doc, { version: '1.1' }) as KubeObject)).toEqual(suggestions);
    expect(validate(policy, suggestions).allowed).toBe(true);
  });

  it('gives two policies of one kind and namespace, denied for different Services in one namespace, grants that do not replace each other (issue 12)', () => {
    const logs = httpListenerPolicy({ name: 'logs', otelAccessLogRefs: [backendRef({ name: 'otel-logs' })] });
    const traces = httpListenerPolicy({ name: 'traces', otelAccessLogRefs: [backendRef({ name: 'otel-traces' })] });
    const [logsGrant] = validate(logs, []).suggestions!;
    const [tracesGrant] = validate(traces, []).suggestions!;
    expect(logsGrant!.metadata!.name).not.toBe(tracesGrant!.metadata!.name);
    for (const grants of [[logsGrant!, tracesGrant!], [tracesGrant!, logsGrant!]]) {
      expect(validate(logs, grants).allowed).toBe(true);
      expect(validate(traces, grants).allowed).toBe(true);
    }
  });

  it('writes the suggested grants so that kubectl (a YAML 1.1 reader) reads back the names as written: namespace 1234, Service on', () => {
    const policy = httpListenerPolicy({ namespace: 'off', otelAccessLogRefs: [backendRef({ name: 'on', namespace: '1234' }), backendRef({ name: 'null', namespace: 'no' })] });
    const verdict = validate(policy, []);
    const yamlText = verdict.message!.slice(verdict.message!.indexOf('apiVersion:'));
    const pasted = yamlText.split('\n---\n').map((doc) => parse(doc, { version: '1.1' }) as KubeObject);
    expect(pasted).toEqual(verdict.suggestions);
    expect(pasted.map((g) => [g.metadata?.namespace, (g.spec as { to: { name: unknown }[] }).to[0]!.name])).toEqual([
      ['1234', 'on'],
      ['no', 'null'],
    ]);
    expect(validate(policy, pasted).allowed).toBe(true);
  });

  it('shows the first 20 suggested grants in the message and keeps every one in the verdict', () => {
    const refs = Array.from({ length: 30 }, (_, i) => backendRef({ name: `svc-${i}` }));
    const verdict = validate(httpListenerPolicy({ otelAccessLogRefs: refs }), []);
    expect(verdict.suggestions).toHaveLength(30);
    expect(verdict.message).toContain('Create these 30 ReferenceGrants, one per target, in namespace monitoring to allow them; the first 20 follow');
    expect(verdict.message!.match(/^kind: ReferenceGrant$/gm)).toHaveLength(20);
    expect(validate(httpListenerPolicy({ otelAccessLogRefs: refs }), verdict.suggestions!).allowed).toBe(true);
  });

  it('suggests grants for the first 1,000 distinct targets and says there are more, so a huge object is decided in bounded time', () => {
    const refs = Array.from({ length: 1_200 }, (_, i) => backendRef({ name: `svc-${i % 1_100}` }));
    const verdict = validate(httpListenerPolicy({ otelAccessLogRefs: refs }), []);
    expect(verdict.suggestions).toHaveLength(1_000);
    expect(verdict.message).toContain(
      'Create one ReferenceGrant per target, more than 1000 in all, to allow them; the first 1000 go in namespace monitoring; the first 20 follow (kgateway-admission check --output json lists the first 1000):',
    );
    const exactly = validate(httpListenerPolicy({ otelAccessLogRefs: refs.slice(0, 1_000) }), []);
    expect(exactly.message).toContain('Create these 1000 ReferenceGrants, one per target, in namespace monitoring to allow them; the first 20 follow (kgateway-admission check --output json lists every one):');
  });

  it('suggests no grant for a ref without a name (it would have to allow every Service)', () => {
    const verdict = validate(httpListenerPolicy({ otelAccessLogRefs: [backendRef({ name: '' })] }), []);
    expect(verdict.allowed).toBe(false);
    expect(verdict.suggestions).toBeUndefined();
    expect(verdict.message).not.toContain('Create');
  });

  it('skips refs that are not objects instead of throwing', () => {
    const policy = httpListenerPolicy();
    (policy.spec as { accessLog: unknown[] }).accessLog.push('junk', { openTelemetry: { grpcService: { backendRef: 42 } } }, null);
    expect(() => validate(policy, [])).not.toThrow();
    expect(validate(policy, [referenceGrant()]).allowed).toBe(true);
  });

  // Issue 17 item 4: a namespace went into the re-read URL as sent, and the
  // result was cached under it. Denied before any grant is looked up.
  it.each<[string, Record<string, unknown>, string]>([
    ['a path in the namespace', { namespace: 'x1/../../gatewayclasses?' }, 'namespace "x1/../../gatewayclasses?" is not a valid namespace name'],
    ['an upper-case namespace', { namespace: 'Monitoring' }, 'namespace "Monitoring" is not a valid namespace name'],
    ['a 64-character namespace', { namespace: 'a'.repeat(64) }, `namespace "${'a'.repeat(64)}" is not a valid namespace name`],
    ['a dotted namespace (a subdomain, not a label)', { namespace: 'a.b' }, 'namespace "a.b" is not a valid namespace name'],
    ['an empty name', { name: '' }, 'name "" is not a valid object name'],
    ['a name with a slash', { name: 'a/b' }, 'name "a/b" is not a valid object name'],
    ['a 254-character name', { name: 'a'.repeat(254) }, 'is not a valid object name'],
  ])('denies a cross-namespace backendRef with %s, before asking the view about any grant', (_name, fields, problem) => {
    const asked: string[] = [];
    const view = InMemoryClusterView.fromObjects([referenceGrant({ to: [{ name: '' }] })]);
    const isGranted = view.isReferenceGranted.bind(view);
    view.isReferenceGranted = (f, t) => (asked.push(t.namespace), isGranted(f, t));
    const policy = httpListenerPolicy({ otelAccessLogRefs: [backendRef(), backendRef(fields)] });
    const verdict = decide(rules, admissionRequest(policy), view);
    expect(verdict.allowed).toBe(false);
    expect(verdict.code).toBe(403);
    expect(verdict.message).toContain('HTTPListenerPolicy kgateway/logging-policy has backendRefs into other namespaces that no object can match:');
    expect(verdict.message).toContain(problem);
    expect(verdict.message!.length).toBeLessThan(600);
    expect(asked).toEqual([]);
  });

  it('accepts the longest valid names', () => {
    const namespace = 'a'.repeat(63);
    const name = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`;
    expect(name).toHaveLength(253);
    const policy = httpListenerPolicy({ otelAccessLogRefs: [backendRef({ namespace, name })] });
    expect(validate(policy, [referenceGrant({ namespace, to: [{ name }] })]).allowed).toBe(true);
  });
});
