// The reference sites of a CRD: every place in its schema where an object can
// name another object by name and namespace. Read from the CRD's
// openAPIV3Schema, so a release's sites are what its API server would accept,
// whatever its Go types say. Used by the generator of the reference-site table
// (scripts/reference-sites.ts), the unit test that keeps that table true, the
// e2e that sends one object per site, and the controllers' oracle.
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';

import { parseAllDocuments } from 'yaml';

/** An OpenAPI v3 schema as CRDs carry it (the parts read here). */
export interface CrdSchema {
  type?: string;
  properties?: Record<string, CrdSchema>;
  items?: CrdSchema;
  additionalProperties?: CrdSchema | boolean;
  required?: string[];
  default?: unknown;
  enum?: unknown[];
  allOf?: CrdSchema[];
  anyOf?: CrdSchema[];
  oneOf?: CrdSchema[];
  [key: string]: unknown;
}

export interface Crd {
  apiVersion: string;
  kind: 'CustomResourceDefinition';
  metadata: { name: string };
  spec: {
    group: string;
    names: { kind: string; plural: string };
    scope: 'Namespaced' | 'Cluster';
    versions: { name: string; served: boolean; storage: boolean; schema?: { openAPIV3Schema?: CrdSchema } }[];
  };
}

/** One site: where it is, and what the schema says of the reference held there. */
export interface ScannedSite {
  group: string;
  kind: string;
  version: string;
  /** Dotted path from the object root; `[]` marks an array whose every item is a reference or holds one. */
  path: string;
  /** The key the reference sits under (`backendRef`, `secretRef`, `caCertificateRefs`, …). */
  key: string;
  /** The reference object's fields, sorted. */
  fields: string[];
  /** Its required fields, sorted. */
  required: string[];
  /** Defaults the schema gives `group` and `kind`, where it gives one. */
  defaults: { group?: string; kind?: string };
}

/** A key that holds references: `…Ref` or `…Refs` (backendRef, secretRef, caCertificateRefs, jwksBackendRef). */
const REF_KEY = /Refs?$/;

/**
 * Every object schema with `name` and `namespace` properties under a `…Ref`
 * or `…Refs` key, at any depth, in one version's schema. Array items are
 * reached through `[]`; a map's values (`additionalProperties`) through `*`,
 * which the table cannot express: such a site is reported and left to the
 * caller to refuse.
 */
export function sitesOfSchema(root: CrdSchema, where: { group: string; kind: string; version: string }): ScannedSite[] {
  const sites: ScannedSite[] = [];
  const seen = new Set<string>();
  const walk = (schema: CrdSchema | undefined, at: string, key: string | undefined, depth: number): void => {
    if (!schema || typeof schema !== 'object' || depth > 200) return;
    for (const branch of [schema.allOf, schema.anyOf, schema.oneOf]) for (const s of branch ?? []) walk(s, at, key, depth + 1);
    if (schema.type === 'array' || schema.items) {
      walk(schema.items, `${at}[]`, key, depth + 1);
      return;
    }
    const props = schema.properties;
    if (props && key !== undefined && REF_KEY.test(key) && props.name && props.namespace && !seen.has(at)) {
      seen.add(at);
      sites.push({
        ...where,
        path: at,
        key,
        fields: Object.keys(props).sort(),
        required: [...(schema.required ?? [])].sort(),
        defaults: {
          ...(typeof props.group?.default === 'string' ? { group: props.group.default } : {}),
          ...(typeof props.kind?.default === 'string' ? { kind: props.kind.default } : {}),
        },
      });
    }
    for (const [name, child] of Object.entries(props ?? {})) walk(child, at === '' ? name : `${at}.${name}`, name, depth + 1);
    if (schema.additionalProperties && typeof schema.additionalProperties === 'object') walk(schema.additionalProperties, `${at}.*`, key, depth + 1);
  };
  walk(root, '', undefined, 0);
  return sites.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The sites of every served version of a CRD. */
export function sitesOfCrd(crd: Crd): ScannedSite[] {
  return crd.spec.versions
    .filter((v) => v.served)
    .flatMap((v) => sitesOfSchema(v.schema?.openAPIV3Schema ?? {}, { group: crd.spec.group, kind: crd.spec.names.kind, version: v.name }));
}

/**
 * A CRD chart template as Helm would render it, for templates that only
 * guard (`{{- if … }}` lines, dropped) and escape (`{{ "{{route_name}}" }}`,
 * kgateway v2.4's TrafficPolicy descriptions: the string literal). Anything
 * else is left, for the caller to refuse.
 */
export function renderCrdTemplate(text: string): { text: string; templateLeft: boolean } {
  const guardsDropped = text
    .split('\n')
    .filter((l) => !/^\s*\{\{-?.*-?\}\}\s*$/.test(l))
    .join('\n');
  const literal = /\{\{-?\s*"((?:[^"\\]|\\.)*)"\s*-?\}\}/g;
  return {
    text: guardsDropped.replace(literal, (_all, value: string) => JSON.parse(`"${value}"`) as string),
    templateLeft: guardsDropped.replace(literal, '').includes('{{'),
  };
}

/** The CRDs in a chart's templates folder (renderCrdTemplate: as harness/crds.ts installs them). */
export async function readCrds(dir: string): Promise<Crd[]> {
  const files = (await fsp.readdir(dir)).filter((f) => f.endsWith('.yaml') || f.endsWith('.yml')).sort();
  const crds: Crd[] = [];
  for (const f of files) {
    const { text, templateLeft } = renderCrdTemplate(await fsp.readFile(path.join(dir, f), 'utf8'));
    if (templateLeft) throw new Error(`${path.join(dir, f)}: Helm template expressions other than guards and string literals`);
    for (const doc of parseAllDocuments(text)) {
      if (doc.errors.length) throw new Error(`${path.join(dir, f)}: ${doc.errors[0]?.message}`);
      const obj = doc.toJS() as Crd | null;
      if (obj?.kind === 'CustomResourceDefinition') crds.push(obj);
    }
  }
  return crds;
}
