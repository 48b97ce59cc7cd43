// One schema-valid object per reference site: the object's required fields
// filled minimally from its CRD's schema, and a reference at the site (every
// other reference left out). Used by the e2e that sends one object per site
// through the API server, and by the controllers' oracle, which writes the
// same objects for kgateway and agentgateway to judge.
import type { Crd, CrdSchema } from './referenceSiteScan.ts';

export interface SiteReference {
  name: string;
  namespace: string;
  group?: string;
  kind?: string;
  port?: number;
}

export interface SampleOptions {
  name: string;
  namespace: string;
  /** Fields set on `spec` before the site's path is filled (e.g. targetRefs a policy needs). */
  spec?: Record<string, unknown>;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const MAX_DEPTH = 40;

function branches(schema: CrdSchema): CrdSchema[] {
  return [...(schema.allOf ?? [])];
}

/** The properties of a schema with those of its allOf branches (anyOf/oneOf are alternatives: not merged). */
function propertiesOf(schema: CrdSchema): Record<string, CrdSchema> {
  return Object.assign({}, ...branches(schema).map(propertiesOf), schema.properties ?? {});
}

function requiredOf(schema: CrdSchema): string[] {
  return [...new Set([...(schema.required ?? []), ...branches(schema).flatMap(requiredOf)])];
}

/** A value the schema accepts, as small as it allows: defaults and enums first. */
export function minimalValue(schema: CrdSchema | undefined, key = '', depth = 0): Json {
  if (!schema || depth > MAX_DEPTH) return {};
  if (schema.default !== undefined) return schema.default as Json;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0] as Json;
  if (schema['x-kubernetes-int-or-string']) return 1;
  const type = schema.type ?? (schema.properties ? 'object' : schema.items ? 'array' : undefined);
  switch (type) {
    case 'string': {
      const min = typeof schema.minLength === 'number' ? schema.minLength : 1;
      if (schema.format === 'duration' || /timeout|interval|duration|ttl/i.test(key)) return '1s';
      if (/url$|uri$/i.test(key) || schema.format === 'uri') return 'https://example.com';
      if (typeof schema.pattern === 'string' && schema.pattern.startsWith('^/')) return '/';
      return 'a'.repeat(Math.max(1, min));
    }
    case 'integer':
    case 'number': {
      if (/port$/i.test(key)) return 4317;
      const min = typeof schema.minimum === 'number' ? schema.minimum : 1;
      return Math.max(min, typeof schema.exclusiveMinimum === 'number' ? schema.exclusiveMinimum + 1 : min);
    }
    case 'boolean':
      return false;
    case 'array': {
      const n = typeof schema.minItems === 'number' ? schema.minItems : 0;
      return Array.from({ length: n }, () => minimalValue(schema.items, key, depth + 1));
    }
    default: {
      const props = propertiesOf(schema);
      const out: Record<string, Json> = {};
      for (const field of requiredOf(schema)) out[field] = minimalValue(props[field], field, depth + 1);
      // Gateway API's BackendObjectReference: "Must have port for Service reference".
      if (/Refs?$/.test(key) && props.port && props.name) out.port = 4317;
      return out;
    }
  }
}

// CEL rules the CRDs state by message (x-kubernetes-validations), which the
// sample honours without evaluating CEL: "exactly one of the fields in [a b]
// must be set" and "at least one of …" get their first field (or the one the
// site's path already set).
const ONE_OF_RULE = /^(?:exactly|at least) one of the fields in \[([^\]]+)\]/;

function oneOfGroups(schema: CrdSchema): string[][] {
  const rules = (schema['x-kubernetes-validations'] as { message?: string }[] | undefined) ?? [];
  return [...rules, ...branches(schema).flatMap((b) => (b['x-kubernetes-validations'] as { message?: string }[] | undefined) ?? [])].flatMap((r) => {
    const m = ONE_OF_RULE.exec(r.message ?? '');
    return m ? [m[1]!.split(/\s+/).filter(Boolean)] : [];
  });
}

/** Field values the CRDs' other CEL rules ask for, by field name. */
const FIELD_HINTS: Record<string, Record<string, Json>> = {
  // agentgateway: "clientAuth without secretRef requires method ClientSecretPost or PrivateKeyJwt".
  clientAuth: { method: 'ClientSecretPost' },
  // kgateway GatewayExtension: "Either issuerURI, or both authorizationEndpoint and tokenEndpoint must be specified".
  oauth2: { issuerURI: 'https://issuer.example.com' },
  // kgateway TrafficPolicy rate-limit descriptor entries: "exactly one entry type must be specified".
  entries: { type: 'RemoteAddress' },
};

/** Completes a value built from the schema: one-of rules, minProperties, hints; recursively. */
function complete(value: Json, schema: CrdSchema | undefined, key: string, depth = 0): Json {
  if (!schema || depth > MAX_DEPTH || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => complete(item, schema.items, key, depth + 1));
  const props = propertiesOf(schema);
  const hint = FIELD_HINTS[key];
  if (hint) for (const [field, v] of Object.entries(hint)) if (props[field]) value[field] = v;
  // agentgateway: "conditional cannot be set with any other field".
  for (const group of value.conditional === undefined ? oneOfGroups(schema) : []) {
    if (group.some((field) => value[field] !== undefined)) continue;
    const field = group.find((f) => props[f]);
    if (field) value[field] = minimalValue(props[field], field, depth + 1);
  }
  const minProperties = Math.max(0, ...[schema, ...branches(schema)].map((s) => (typeof s.minProperties === 'number' ? s.minProperties : 0)));
  for (const field of Object.keys(props)) {
    if (Object.keys(value).length >= minProperties) break;
    if (value[field] === undefined) value[field] = minimalValue(props[field], field, depth + 1);
  }
  // A map (additionalProperties) that must not be empty: one key.
  if (Object.keys(value).length < minProperties && schema.additionalProperties && typeof schema.additionalProperties === 'object') {
    value.a = minimalValue(schema.additionalProperties, 'a', depth + 1);
  }
  const valueSchema = schema.additionalProperties && typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined;
  for (const [field, child] of Object.entries(value)) value[field] = complete(child, props[field] ?? valueSchema, field, depth + 1);
  return value;
}

/**
 * Sets the reference at `path` (dotted, `[]` for arrays, as in the site
 * table) inside `root`, creating the objects and one-item arrays on the way
 * with their required fields filled.
 */
function placeAt(root: Record<string, Json>, schema: CrdSchema, path: string[], ref: Record<string, Json>): void {
  let node: Record<string, Json> = root;
  let nodeSchema: CrdSchema = schema;
  for (let i = 0; i < path.length; i++) {
    const segment = path[i]!;
    const each = segment.endsWith('[]');
    const field = each ? segment.slice(0, -2) : segment;
    const fieldSchema = propertiesOf(nodeSchema)[field];
    if (!fieldSchema) throw new Error(`schema has no field ${field} at ${path.slice(0, i + 1).join('.')}`);
    const last = i === path.length - 1;
    if (each) {
      const itemSchema = fieldSchema.items ?? {};
      const item = last ? ref : ((minimalValue(itemSchema, field) as Record<string, Json>) ?? {});
      node[field] = [item];
      if (last) return;
      node = item;
      nodeSchema = itemSchema;
    } else {
      if (last) {
        node[field] = ref;
        return;
      }
      const existing = node[field];
      const child = existing && typeof existing === 'object' && !Array.isArray(existing) ? existing : (minimalValue(fieldSchema, field) as Record<string, Json>);
      node[field] = child;
      node = child;
      nodeSchema = fieldSchema;
    }
  }
}

/** The reference object at a site: name and namespace, a port where the schema has one, group and kind where required. */
export function referenceAt(refSchema: CrdSchema, ref: SiteReference): Record<string, Json> {
  const props = propertiesOf(refSchema);
  const required = requiredOf(refSchema);
  const out: Record<string, Json> = {};
  for (const field of required) out[field] = minimalValue(props[field], field);
  out.name = ref.name;
  out.namespace = ref.namespace;
  if (props.port) out.port = ref.port ?? 4317;
  if (ref.group !== undefined && props.group) out.group = ref.group;
  if (ref.kind !== undefined && props.kind) out.kind = ref.kind;
  return out;
}

/** The schema of the reference at `path`. */
export function schemaAt(schema: CrdSchema, path: string): CrdSchema {
  let node = schema;
  for (const segment of path.split('.')) {
    const each = segment.endsWith('[]');
    const next = propertiesOf(node)[each ? segment.slice(0, -2) : segment];
    if (!next) throw new Error(`schema has no field ${segment} in ${path}`);
    node = each ? (next.items ?? {}) : next;
  }
  return node;
}

const GATEWAY_TARGET = [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' }];

/**
 * What a kind's CEL rules ask of `spec` beyond its schema, for a reference at
 * `path`: a policy's target, and the backend type its inline policies need
 * ("AI policies require AI backend", "MCP policies require MCP backend").
 */
export function specHints(group: string, kind: string, path: string): Record<string, unknown> {
  if (group === 'agentgateway.dev' && kind === 'AgentgatewayPolicy') return { targetRefs: GATEWAY_TARGET };
  if (group === 'gateway.kgateway.dev' && /Policy$/.test(kind)) return { targetRefs: GATEWAY_TARGET };
  if (group === 'agentgateway.dev' && kind === 'AgentgatewayBackend' && path.startsWith('spec.policies.mcp.')) return { mcp: { targets: [{ name: 't', static: { host: 'mcp.example.com', port: 8080 } }] } };
  return {};
}

/**
 * An object of the CRD's kind at `version` with a reference at `path`
 * (`spec.…`) and otherwise only what the schema requires. CEL rules
 * (x-kubernetes-validations) are not evaluated: the caller's `spec` supplies
 * what they ask (a policy's targetRefs), and the API server is the judge.
 */
export function sampleObject(crd: Crd, version: string, path: string, ref: SiteReference, options: SampleOptions): Record<string, Json> {
  const v = crd.spec.versions.find((x) => x.name === version);
  const root = v?.schema?.openAPIV3Schema;
  if (!root) throw new Error(`${crd.metadata.name} has no schema at ${version}`);
  const [first, ...rest] = path.split('.');
  if (first !== 'spec') throw new Error(`only spec paths are sampled, not ${path}`);
  const specSchema = propertiesOf(root).spec ?? {};
  const spec = { ...(minimalValue(specSchema, 'spec') as Record<string, Json>), ...(structuredClone(options.spec ?? {}) as Record<string, Json>) };
  placeAt(spec, specSchema, rest, referenceAt(schemaAt(specSchema, rest.join('.')), ref));
  complete(spec, specSchema, 'spec');
  return {
    apiVersion: `${crd.spec.group}/${version}`,
    kind: crd.spec.names.kind,
    metadata: { name: options.name, namespace: options.namespace },
    spec,
  };
}
