// fast-check arbitraries for the property tests: arbitrary and mutated
// AdmissionReviews, and policies of every kind in the backendRef table with
// an ungranted cross-namespace ref placed among arbitrary other content. The
// oracle for "granted" is written here from GEP-709, not taken from src/.
import fc from 'fast-check';
import { builtInBackendRefKinds } from '../../../src/rules/backendRefKinds.js';
import { DEFAULT_GRANT_MODES, grantRequirement } from '../../../src/rules/grantModes.js';
import type { BackendRefSite } from '../../../src/rules/settings.js';
import type { AdmissionRequest, KubeObject, Operation } from '../../../src/rules/types.js';
import { backendRef, gateway, gatewayClass, httpListenerPolicy, listenerPolicy, referenceGrant } from '../../support/builders.js';

export const KGATEWAY = 'gateway.kgateway.dev';
export const GATEWAY_API = 'gateway.networking.k8s.io';
export const NAMESPACES = ['kgateway', 'monitoring', 'tracing', 'apps', 'default'] as const;
const NAMES = ['otel-collector-collector', 'tempo', 'authz', 'a', 'b'] as const;
const REF_GROUPS = ['', 'gateway.kgateway.dev', 'agentgateway.dev'] as const;
const REF_KINDS = ['Service', 'Backend', 'AgentgatewayBackend'] as const;

/** A kind that needs grants: a row of the built-in table, or a kind searched by scanKinds. */
export interface PolicyKind {
  group: string;
  kind: string;
  /** Dotted paths with `[]` for arrays, as in the table. */
  paths: string[];
  scanned: boolean;
}

// The oracle below models a Gateway API BackendObjectReference (core Service
// by default) that needs a grant from the referrer itself: the table's paths
// that are such a ref under the default grant modes. Secret, CA certificate
// and extension refs (other defaults, another grant `from`, mode-dependent)
// have table tests of their own (test/unit/rules/grantModes.test.ts).
const isModelled = (site: BackendRefSite | undefined): boolean =>
  site === undefined || (grantRequirement(site.control, DEFAULT_GRANT_MODES) === 'required' && !site.grantFrom && site.target.group === '' && site.target.kind === 'Service');
export const TABLE_KINDS: PolicyKind[] = builtInBackendRefKinds
  .map((row) => ({ group: row.group, kind: row.kind, paths: row.paths.filter((p) => isModelled(row.sites?.[p])), scanned: false }))
  .filter((row) => row.paths.length > 0);
export const SCAN_KIND = { group: 'example.com', kind: 'CustomRoute' };

/** Every field name on a table path: noise keyed by these collides with where refs sit. */
const TABLE_FIELDS = [...new Set(TABLE_KINDS.flatMap((k) => k.paths.flatMap((p) => p.split('.').map((s) => s.replace('[]', '')))))];

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------
// Grants and the GEP-709 oracle
// ---------------------------------------------------------------------------

export interface Grant {
  namespace: string;
  name: string;
  from: { group: string; kind: string; namespace: string }[];
  to: { group: string; kind: string; name?: string }[];
}

export interface Ref {
  name: string;
  namespace?: string;
  group?: string;
  kind?: string;
  port?: number;
}

export interface Target {
  group: string;
  kind: string;
  namespace: string;
  name: string;
}

/** BackendObjectReference defaults: group "" (core), kind Service, namespace the referrer's. */
export function targetOf(ref: Ref, ownNamespace: string): Target {
  return { group: ref.group ?? '', kind: ref.kind || 'Service', namespace: ref.namespace || ownNamespace, name: ref.name };
}

/** A target as the denial message lists it: `Service monitoring/x`, `Backend.gateway.kgateway.dev apps/y`. */
export function describeTarget(target: Target): string {
  return `${target.group === '' ? target.kind : `${target.kind}.${target.group}`} ${target.namespace}/${target.name}`;
}

/** GEP-709: a grant in the target's namespace with a matching `from` and a `to` that names the target or no name. */
export function granted(grants: readonly Grant[], from: { group: string; kind: string; namespace: string }, to: Target): boolean {
  return grants.some(
    (g) =>
      g.namespace === to.namespace &&
      g.from.some((f) => f.group === from.group && f.kind === from.kind && f.namespace === from.namespace) &&
      g.to.some((t) => t.group === to.group && t.kind === to.kind && (t.name === undefined || t.name === '' || t.name === to.name)),
  );
}

export function grantObject(grant: Grant, version: 'v1' | 'v1beta1' = 'v1beta1'): KubeObject {
  return {
    apiVersion: `${GATEWAY_API}/${version}`,
    kind: 'ReferenceGrant',
    metadata: { name: grant.name, namespace: grant.namespace },
    spec: { from: grant.from, to: grant.to.map((t) => (t.name === undefined ? { group: t.group, kind: t.kind } : t)) },
  };
}

const kindNames = [...TABLE_KINDS.map((k) => k.kind), SCAN_KIND.kind];
const fromGroups = [...new Set([...TABLE_KINDS.map((k) => k.group), SCAN_KIND.group, ''])];

export const grantArb: fc.Arbitrary<Grant> = fc.record({
  namespace: fc.constantFrom(...NAMESPACES),
  name: fc.constantFrom('g1', 'g2', 'g3', 'allow-otel'),
  from: fc.array(fc.record({ group: fc.constantFrom(...fromGroups), kind: fc.constantFrom(...kindNames), namespace: fc.constantFrom(...NAMESPACES) }), { maxLength: 3 }),
  to: fc.array(
    fc.record({ group: fc.constantFrom(...REF_GROUPS), kind: fc.constantFrom(...REF_KINDS), name: fc.option(fc.constantFrom(...NAMES, ''), { nil: undefined }) }, { requiredKeys: ['group', 'kind'] }),
    { maxLength: 3 },
  ),
});

export const refArb: fc.Arbitrary<Ref> = fc.record(
  {
    name: fc.constantFrom(...NAMES),
    namespace: fc.constantFrom(...NAMESPACES),
    group: fc.constantFrom(...REF_GROUPS),
    kind: fc.constantFrom(...REF_KINDS),
    port: fc.integer({ min: 1, max: 65535 }),
  },
  { requiredKeys: ['name'] },
);

// ---------------------------------------------------------------------------
// Placing values at table paths
// ---------------------------------------------------------------------------

/**
 * Sets `value` at a dotted path with `[]` segments, creating or replacing
 * containers on the way; `picks` choose which array item (or a new one).
 * Returns the concrete location, as the rule reports it.
 */
export function place(root: Record<string, unknown>, path: string, value: unknown, picks: readonly number[]): string {
  const segments = path.split('.');
  let node: Record<string, unknown> = root;
  let location = '';
  let pick = 0;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const each = segment.endsWith('[]');
    const field = each ? segment.slice(0, -2) : segment;
    const last = i === segments.length - 1;
    location += location === '' ? field : `.${field}`;
    if (!each) {
      if (last) {
        node[field] = value;
        return location;
      }
      if (!isRecord(node[field])) node[field] = {};
      node = node[field] as Record<string, unknown>;
      continue;
    }
    if (!Array.isArray(node[field])) node[field] = [];
    const items = node[field] as unknown[];
    const index = (picks[pick++] ?? 0) % (items.length + 1);
    location += `[${index}]`;
    if (last) {
      items[index] = value;
      return location;
    }
    if (index === items.length) items.push({});
    else if (!isRecord(items[index])) items[index] = {};
    node = items[index] as Record<string, unknown>;
  }
  return location;
}

// ---------------------------------------------------------------------------
// Noise
// ---------------------------------------------------------------------------

const json = (maxDepth: number) => fc.jsonValue({ maxDepth });

/** Spec noise; with `collide`, keys include the table's field names, so refs are placed through hostile containers. */
export const specNoiseArb = (collide: boolean) =>
  fc.dictionary(collide ? fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom(...TABLE_FIELDS)) : fc.string({ minLength: 1, maxLength: 12 }).map((k) => `x-${k}`), json(4), { maxKeys: 6 });

/** Metadata an attacker controls; never deletionTimestamp (an object being deleted keeps the refs it had, which these properties do not model). */
export const metadataNoiseArb = fc.record(
  {
    labels: fc.dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 }), { maxKeys: 3 }),
    annotations: fc.oneof(
      fc.dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 20 }), { maxKeys: 3 }),
      fc.constant({ 'kgateway-admission.dev/skip': 'true' }),
    ),
    finalizers: fc.array(fc.string({ maxLength: 10 }), { maxLength: 2 }),
    generateName: fc.string({ maxLength: 8 }),
    uid: fc.uuid(),
    resourceVersion: fc.nat().map(String),
    managedFields: fc.array(json(3), { maxLength: 2 }),
    ownerReferences: fc.array(json(2), { maxLength: 2 }),
  },
  { requiredKeys: [] },
);

/** Request fields the API server may send that the decision must not depend on. */
export const requestExtrasArb = fc.record(
  {
    dryRun: fc.boolean(),
    userInfo: fc.record({ username: fc.string({ maxLength: 12 }), groups: fc.array(fc.string({ maxLength: 12 }), { maxLength: 3 }) }),
    options: json(2),
    requestKind: json(2),
    requestResource: json(2),
    resource: json(2),
    subResource: fc.string({ maxLength: 8 }),
    someFutureField: json(3),
  },
  { requiredKeys: [] },
);

// ---------------------------------------------------------------------------
// The policy with an ungranted cross-namespace ref
// ---------------------------------------------------------------------------

export interface PolicyCase {
  request: AdmissionRequest;
  grants: Grant[];
  /** The last ref placed: nothing overwrote it. */
  probe: { ref: Ref; target: Target; location: string; granted: boolean; crossesNamespace: boolean };
  from: { group: string; kind: string; namespace: string };
}

const NEAR_MISS_FIELDS = ['grant namespace', 'from.group', 'from.kind', 'from.namespace', 'to.group', 'to.kind', 'to.name'] as const;

/** A grant that would allow `to` but for one field. */
function nearMiss(from: PolicyCase['from'], to: Target, field: (typeof NEAR_MISS_FIELDS)[number], alternative: number, name: string): Grant {
  const other = <T>(values: readonly T[], current: T): T => {
    const choices = values.filter((v) => v !== current);
    return choices[alternative % choices.length]!;
  };
  const grant: Grant = { namespace: to.namespace, name, from: [{ ...from }], to: [{ group: to.group, kind: to.kind, name: to.name }] };
  switch (field) {
    case 'grant namespace':
      grant.namespace = other(NAMESPACES, to.namespace);
      break;
    case 'from.group':
      grant.from[0]!.group = other([...fromGroups, 'gateway.networking.k8s.io'], from.group);
      break;
    case 'from.kind':
      grant.from[0]!.kind = other(kindNames, from.kind);
      break;
    case 'from.namespace':
      grant.from[0]!.namespace = other(NAMESPACES, from.namespace);
      break;
    case 'to.group':
      grant.to[0]!.group = other(REF_GROUPS, to.group);
      break;
    case 'to.kind':
      grant.to[0]!.kind = other(REF_KINDS, to.kind);
      break;
    case 'to.name':
      grant.to[0]!.name = other(NAMES, to.name);
      break;
  }
  return grant;
}

const scanPathArb = fc
  .tuple(fc.array(fc.constantFrom('rules', 'filters', 'a', 'b', 'items[]', 'routes[]', 'extension'), { maxLength: 6 }), fc.constantFrom('backendRef', 'backendRefs[]'))
  .map(([middle, last]) => ['spec', ...middle, last].join('.'));

const placementArb = (paths: fc.Arbitrary<string>) =>
  fc.record({ path: paths, ref: refArb, picks: fc.array(fc.nat({ max: 4 }), { maxLength: 6 }) });

function kindArb(includeScanned: boolean): fc.Arbitrary<PolicyKind> {
  const table = fc.constantFrom(...TABLE_KINDS);
  return includeScanned ? fc.oneof({ weight: 3, arbitrary: table }, { weight: 1, arbitrary: fc.constant<PolicyKind>({ ...SCAN_KIND, paths: [], scanned: true }) }) : table;
}

/**
 * A CREATE or UPDATE of a policy of a table kind (or a scanned kind), with
 * noise, other refs, random grants, and, placed last, a probe ref. The probe
 * is moved into another namespace than the policy's when it would not cross.
 */
export function policyCaseArb(options: { includeScanned?: boolean } = {}): fc.Arbitrary<PolicyCase> {
  return kindArb(options.includeScanned ?? true).chain((kind) => {
    const paths = kind.scanned ? scanPathArb : fc.constantFrom(...kind.paths);
    return fc
      .record({
        specNoise: specNoiseArb(true),
        metadata: metadataNoiseArb,
        objectNamespace: fc.option(fc.constantFrom(...NAMESPACES), { nil: undefined }),
        requestNamespace: fc.option(fc.constantFrom(...NAMESPACES), { nil: undefined }),
        name: fc.constantFrom('logging-policy', 'p', ''),
        others: fc.array(placementArb(paths), { maxLength: 4 }),
        probe: placementArb(paths),
        grants: fc.array(grantArb, { maxLength: 4 }),
        nearMisses: fc.array(fc.record({ field: fc.constantFrom(...NEAR_MISS_FIELDS), alternative: fc.nat() }), { maxLength: 3 }),
        exactGrant: fc.nat({ max: 5 }).map((n) => n === 0),
        operation: fc.constantFrom<Operation>('CREATE', 'UPDATE'),
        oldObject: fc.oneof(fc.constant(null), fc.dictionary(fc.string({ maxLength: 8 }), json(3), { maxKeys: 4 })),
        extras: requestExtrasArb,
        topNoise: fc.dictionary(fc.constantFrom('status', 'data', 'extra', 'apiVersion'), json(2), { maxKeys: 2 }),
      })
      .map((c): PolicyCase => {
        const fromNamespace = c.objectNamespace || c.requestNamespace || 'default';
        const from = { group: kind.group, kind: kind.kind, namespace: fromNamespace };
        const spec: Record<string, unknown> = { ...structuredClone(c.specNoise) };
        const object: Record<string, unknown> = {
          ...structuredClone(c.topNoise),
          apiVersion: `${kind.group}/v1alpha1`,
          kind: kind.kind,
          metadata: { ...structuredClone(c.metadata), name: c.name, ...(c.objectNamespace ? { namespace: c.objectNamespace } : {}) },
          spec,
        };
        for (const other of c.others) place(object, other.path, { ...other.ref }, other.picks);
        const probeRef: Ref = { ...c.probe.ref };
        if ((probeRef.namespace || fromNamespace) === fromNamespace) {
          probeRef.namespace = NAMESPACES[(NAMESPACES.indexOf(fromNamespace as (typeof NAMESPACES)[number]) + 1) % NAMESPACES.length];
        }
        const location = place(object, c.probe.path, probeRef, c.probe.picks);
        const target = targetOf(probeRef, fromNamespace);
        // Grants that miss the probe by one field, and sometimes the exact one.
        // A namespace holds one grant per name: names are made unique, as the oracle counts each.
        const grants = [
          ...c.grants.map((g, i) => ({ ...g, name: `${g.name}-${i}` })),
          ...c.nearMisses.map((m, i) => nearMiss(from, target, m.field, m.alternative, `near-miss-${i}`)),
          ...(c.exactGrant ? [{ namespace: target.namespace, name: 'exact', from: [from], to: [{ group: target.group, kind: target.kind, name: target.name }] }] : []),
        ];
        const request: AdmissionRequest = {
          ...(c.extras as object),
          uid: `prop-${Math.abs(hash(JSON.stringify(object)))}`,
          kind: { group: kind.group, version: 'v1alpha1', kind: kind.kind },
          operation: c.operation,
          ...(c.requestNamespace ? { namespace: c.requestNamespace } : {}),
          name: c.name,
          object: object as KubeObject,
          ...(c.operation === 'UPDATE' ? { oldObject: c.oldObject as KubeObject | null } : {}),
        };
        return {
          request,
          grants,
          from,
          probe: { ref: probeRef, target, location, granted: granted(grants, from, target), crossesNamespace: target.namespace !== fromNamespace },
        };
      });
  });
}

/**
 * A policy whose every ref is in its own namespace or granted: a grant that
 * allows exactly it is added for each cross-namespace one (among random
 * others). Noise stays off the table's field names, so no unplanned ref appears.
 */
export function grantedPolicyCaseArb(): fc.Arbitrary<{ request: AdmissionRequest; grants: Grant[] }> {
  return fc.constantFrom(...TABLE_KINDS).chain((kind) =>
    fc
      .record({
        specNoise: specNoiseArb(false),
        namespace: fc.constantFrom(...NAMESPACES),
        refs: fc.array(placementArb(fc.constantFrom(...kind.paths)), { minLength: 1, maxLength: 5 }),
        grants: fc.array(grantArb, { maxLength: 3 }),
        nameless: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
        operation: fc.constantFrom<Operation>('CREATE', 'UPDATE'),
      })
      .map((c) => {
        const from = { group: kind.group, kind: kind.kind, namespace: c.namespace };
        const object: Record<string, unknown> = { apiVersion: `${kind.group}/v1alpha1`, kind: kind.kind, metadata: { name: 'granted', namespace: c.namespace }, spec: structuredClone(c.specNoise) };
        const grants = c.grants.map((g, i) => ({ ...g, name: `${g.name}-${i}` }));
        c.refs.forEach((placement, i) => {
          place(object, placement.path, { ...placement.ref }, placement.picks);
          const target = targetOf(placement.ref, c.namespace);
          if (target.namespace !== c.namespace) {
            grants.push({
              namespace: target.namespace,
              name: `exact-${i}`,
              from: [from],
              to: [{ group: target.group, kind: target.kind, ...(c.nameless[i] ? {} : { name: target.name }) }],
            });
          }
        });
        const request: AdmissionRequest = {
          uid: `granted-${Math.abs(hash(JSON.stringify(object)))}`,
          kind: { group: kind.group, version: 'v1alpha1', kind: kind.kind },
          operation: c.operation,
          namespace: c.namespace,
          name: 'granted',
          object: object as KubeObject,
        };
        return { request, grants };
      }),
  );
}

// ---------------------------------------------------------------------------
// Arbitrary and mutated AdmissionReviews
// ---------------------------------------------------------------------------

function hash(text: string): number {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (Math.imul(h, 31) + text.charCodeAt(i)) | 0;
  return h;
}

export const FIXTURES: KubeObject[] = [
  gateway(),
  gateway({ version: 'v1beta1', spec: { infrastructure: { labels: { team: 'ai' } } } }),
  gateway({ spec: { infrastructure: { parametersRef: { group: KGATEWAY, kind: 'GatewayParameters', name: 'own' } } } }),
  gateway({ className: 'kgateway' }),
  httpListenerPolicy(),
  httpListenerPolicy({ accessLogRefs: [backendRef({ namespace: 'tracing' })], tracingRef: backendRef({ namespace: 'kgateway' }) }),
  listenerPolicy({ defaultRef: backendRef(), perPortRefs: [backendRef(), backendRef({ namespace: 'apps' })] }),
  referenceGrant(),
  referenceGrant({ version: 'v1', to: [{ name: '' }] }),
  gatewayClass('agentgateway', 'kgateway.dev/agentgateway'),
  {
    apiVersion: `${KGATEWAY}/v1alpha1`,
    kind: 'GatewayExtension',
    metadata: { name: 'ext', namespace: 'apps' },
    spec: { extAuth: { grpcService: { backendRef: { name: 'authz', namespace: 'auth' } } }, jwt: { providers: [{ jwks: { remote: { backendRef: { name: 'jwks', namespace: 'auth' } } } }] } },
  },
  {
    apiVersion: 'agentgateway.dev/v1alpha1',
    kind: 'AgentgatewayPolicy',
    metadata: { name: 'agp', namespace: 'apps' },
    spec: { traffic: { extAuth: { backendRef: { name: 'authz', namespace: 'auth' } } }, frontend: { tracing: { backendRef: { name: 'otel', namespace: 'monitoring' } } } },
  },
];

export function requestFor(object: KubeObject, operation: Operation, uid: string, oldObject?: KubeObject | null): AdmissionRequest {
  const [group, version] = (object.apiVersion ?? 'v1').includes('/') ? (object.apiVersion as string).split('/') : ['', object.apiVersion ?? 'v1'];
  return {
    uid,
    kind: { group: group!, version: version!, kind: object.kind ?? 'Unknown' },
    operation,
    namespace: object.metadata?.namespace,
    name: object.metadata?.name,
    object: operation === 'DELETE' ? null : object,
    ...(oldObject !== undefined ? { oldObject } : operation === 'DELETE' || operation === 'UPDATE' ? { oldObject: object } : {}),
  };
}

/** One edit at a node chosen by `at` (an index into every node of the document). */
export interface Mutation {
  op: 'delete' | 'replace' | 'insert' | 'wrap' | 'duplicate' | 'retype';
  at: number;
  value: unknown;
  key: string;
}

export const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  op: fc.constantFrom<Mutation['op']>('delete', 'replace', 'insert', 'wrap', 'duplicate', 'retype'),
  at: fc.nat(),
  value: json(3),
  key: fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom('uid', 'kind', 'operation', 'object', 'metadata', 'spec', 'namespace', 'backendRef', 'infrastructure', 'parametersRef', 'apiVersion', 'request')),
});

/** Every (parent, key) pair in a JSON document, depth first. */
function slots(root: unknown): { parent: Record<string, unknown> | unknown[]; key: string | number }[] {
  const found: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const walk = (node: unknown) => {
    if (Array.isArray(node)) {
      node.forEach((child, i) => {
        found.push({ parent: node, key: i });
        walk(child);
      });
    } else if (isRecord(node)) {
      for (const [key, child] of Object.entries(node)) {
        found.push({ parent: node, key });
        walk(child);
      }
    }
  };
  walk(root);
  return found;
}

/** Applies the mutations to a copy of `document`. */
export function mutate(document: unknown, mutations: readonly Mutation[]): unknown {
  const root = structuredClone(document);
  for (const m of mutations) {
    const all = slots(root);
    if (all.length === 0) break;
    const { parent, key } = all[m.at % all.length]!;
    const current = (parent as Record<string | number, unknown>)[key];
    const set = (value: unknown) => ((parent as Record<string | number, unknown>)[key] = value);
    switch (m.op) {
      case 'delete':
        if (Array.isArray(parent)) parent.splice(key as number, 1);
        else delete parent[key as string];
        break;
      case 'replace':
        set(structuredClone(m.value));
        break;
      case 'insert':
        if (isRecord(current)) current[m.key] = structuredClone(m.value);
        else if (Array.isArray(current)) current.push(structuredClone(m.value));
        else set({ [m.key]: structuredClone(m.value) });
        break;
      case 'wrap':
        set([current]);
        break;
      case 'duplicate':
        if (Array.isArray(current)) current.push(structuredClone(current[0] ?? null));
        else set(Array.isArray(parent) ? current : [current, structuredClone(current)]);
        break;
      case 'retype':
        set(typeof current === 'string' ? current.length : typeof current === 'number' ? String(current) : current === null ? {} : typeof current === 'object' ? JSON.stringify(current) : null);
        break;
    }
  }
  return root;
}

export const operationArb = fc.constantFrom<Operation>('CREATE', 'UPDATE', 'DELETE', 'CONNECT');

/** A valid AdmissionReview of one of the fixtures, then 0 to 5 random edits anywhere in it (envelope included). */
export const mutatedReviewArb: fc.Arbitrary<unknown> = fc
  .record({ fixture: fc.nat({ max: FIXTURES.length - 1 }), operation: operationArb, mutations: fc.array(mutationArb, { maxLength: 5 }), uid: fc.uuid() })
  .map(({ fixture, operation, mutations, uid }) =>
    mutate({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: requestFor(FIXTURES[fixture]!, operation, uid) }, mutations),
  );

/** Envelopes that are right in shape with arbitrary parts, and arbitrary JSON. */
export const arbitraryBodyArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 1, arbitrary: json(5) },
  { weight: 1, arbitrary: fc.anything({ maxDepth: 4, withNullPrototype: false, withBigInt: false, withDate: false, withMap: false, withSet: false, withTypedArray: false, withSparseArray: false, withObjectString: false, withBoxedValues: false }).map((v) => JSON.parse(JSON.stringify(v ?? null)) as unknown) },
  {
    weight: 2,
    arbitrary: fc.record({
      apiVersion: fc.oneof(fc.constant('admission.k8s.io/v1'), fc.constant('admission.k8s.io/v1beta1'), json(1)),
      kind: fc.oneof(fc.constant('AdmissionReview'), json(1)),
      request: fc.oneof(
        json(3),
        fc.record(
          {
            uid: fc.oneof(fc.uuid(), fc.string({ maxLength: 300 }), json(1)),
            kind: fc.oneof(fc.record({ group: fc.constantFrom(KGATEWAY, GATEWAY_API, 'agentgateway.dev', ''), version: fc.constantFrom('v1', 'v1beta1', 'v1alpha1'), kind: fc.constantFrom(...kindNames, 'Gateway', 'ReferenceGrant', 'GatewayClass', 'Pod') }), json(2)),
            operation: fc.oneof(operationArb, json(1)),
            namespace: fc.oneof(fc.constantFrom(...NAMESPACES), json(1)),
            name: fc.oneof(fc.string({ maxLength: 20 }), json(1)),
            object: fc.oneof(json(5), fc.constantFrom(...FIXTURES), fc.constant(null)),
            oldObject: fc.oneof(json(4), fc.constantFrom(...FIXTURES), fc.constant(null)),
          },
          { requiredKeys: [] },
        ),
      ),
    }, { requiredKeys: [] }),
  },
  { weight: 3, arbitrary: mutatedReviewArb },
);

/** Requests as the rules receive them (the envelope already checked): any kind, operation and object. */
export const ruleRequestArb: fc.Arbitrary<AdmissionRequest> = fc
  .record({
    gvk: fc.oneof(
      fc.constantFrom(
        ...TABLE_KINDS.map((k) => ({ group: k.group, version: 'v1alpha1', kind: k.kind })),
        { group: GATEWAY_API, version: 'v1', kind: 'Gateway' },
        { group: GATEWAY_API, version: 'v1beta1', kind: 'Gateway' },
        { group: GATEWAY_API, version: 'v1beta1', kind: 'ReferenceGrant' },
        { group: SCAN_KIND.group, version: 'v1', kind: SCAN_KIND.kind },
      ),
      fc.record({ group: fc.string({ maxLength: 10 }), version: fc.string({ maxLength: 4 }), kind: fc.string({ minLength: 1, maxLength: 10 }) }),
    ),
    operation: operationArb,
    namespace: fc.option(fc.constantFrom(...NAMESPACES), { nil: undefined }),
    object: fc.oneof(json(6), fc.record({ fixture: fc.nat({ max: FIXTURES.length - 1 }), mutations: fc.array(mutationArb, { maxLength: 5 }) }).map(({ fixture, mutations }) => mutate(FIXTURES[fixture], mutations)), fc.constant(null)),
    oldObject: fc.oneof(json(4), fc.constantFrom(...FIXTURES), fc.constant(null), fc.constant(undefined)),
  })
  .map(({ gvk, operation, namespace, object, oldObject }) => ({
    uid: 'rule',
    kind: gvk,
    operation,
    ...(namespace ? { namespace } : {}),
    object: object as KubeObject | null,
    ...(oldObject !== undefined ? { oldObject: oldObject as KubeObject | null } : {}),
  }));

/** Cluster states: grants, GatewayClasses and parameters objects, all arbitrary in part. */
export const viewObjectsArb: fc.Arbitrary<KubeObject[]> = fc
  .tuple(
    fc.array(grantArb, { maxLength: 4 }),
    fc.array(fc.record({ name: fc.constantFrom('agentgateway', 'team-ai', 'kgateway'), controller: fc.constantFrom('kgateway.dev/agentgateway', 'agentgateway.dev/agentgateway', 'other') }), { maxLength: 2 }),
    fc.array(json(3), { maxLength: 2 }),
    fc.boolean(),
  )
  .map(([grants, classes, junk, params]) => [
    ...grants.map((g) => grantObject(g)),
    ...classes.map((c) => gatewayClass(c.name, c.controller)),
    ...(params ? [{ apiVersion: `${KGATEWAY}/v1alpha1`, kind: 'GatewayParameters', metadata: { name: 'agentgateway-otel', namespace: 'kgateway' }, spec: {} }] : []),
    ...junk.filter(isRecord).map((j) => j as KubeObject),
  ]);
