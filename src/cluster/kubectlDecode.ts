import { isAlias, isMap, isScalar, isSeq, type Document, type Node, type Scalar } from 'yaml';
import { goYamlV2Scalar } from '../rules/kubectlYaml.js';
import { isRecord } from '../rules/objectPaths.js';

/*
 * A document read as kubectl reads it: sigs.k8s.io/yaml's YAMLToJSON, which
 * decodes with go-yaml v2 (a YAML 1.1 reader) into interface{} and converts
 * to JSON. The yaml library parses (its errors and lines); the value is built
 * here from its syntax tree, because go-yaml v2 differs from the library's
 * 1.1 schema where it matters for manifests:
 * - plain scalars resolve as goYamlV2Scalar says (0o17 is 15, 1e3 is 1000,
 *   a timestamp stays text);
 * - `<<` merges in order, each merged key overwriting what is there, a
 *   sequence of maps from its last to its first (decode.go, d.merge);
 * - a key given twice: the last wins (kubectl does not refuse it);
 * - keys become JSON strings (true is "true", 15 is "15").
 */

/** A document kubectl would refuse; `node` is where, for the line. */
export class KubectlDecodeError extends Error {
  constructor(
    message: string,
    readonly node: Node | undefined,
  ) {
    super(message);
    this.name = 'KubectlDecodeError';
  }
}

// go-yaml v2 refuses a document with more than this many alias expansions
// relative to its size (decode.go allowedAliasRatio); one plain bound here.
const MAX_DECODED_NODES = 1_000_000;
const MAX_ALIAS_EXPANSIONS_OF_LARGE_DOCUMENT = 100;
const LARGE_DOCUMENT_NODES = 100_000;

function isMergeKey(node: unknown): boolean {
  return isScalar(node) && node.type === 'PLAIN' && !node.tag && node.source === '<<';
}

function jsonKey(value: unknown, node: Node | undefined): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null) return 'null';
  throw new KubectlDecodeError('a mapping key must be a scalar: JSON has no other keys', node);
}

function scalarValue(node: Scalar): unknown {
  // Quoted and block scalars are strings; an explicit tag was resolved by the library.
  if (node.type !== 'PLAIN' || node.tag || typeof node.source !== 'string') return node.value;
  return goYamlV2Scalar(node.source);
}

/** The JSON value kubectl gets from `document`. */
export function decodeAsKubectl(document: Document.Parsed): unknown {
  let decoded = 0;
  let aliases = 0;
  const decode = (node: unknown): unknown => {
    decoded++;
    if (decoded > MAX_DECODED_NODES || (aliases > MAX_ALIAS_EXPANSIONS_OF_LARGE_DOCUMENT && decoded > LARGE_DOCUMENT_NODES)) {
      throw new KubectlDecodeError('the document contains excessive aliasing', undefined);
    }
    if (node === null || node === undefined) return null;
    if (isAlias(node)) {
      aliases++;
      const target = node.resolve(document);
      if (!target) throw new KubectlDecodeError(`unknown anchor ${node.source} referenced`, node);
      return decode(target);
    }
    if (isScalar(node)) {
      const value = scalarValue(node);
      if (typeof value === 'number' && !Number.isFinite(value)) throw new KubectlDecodeError(`${node.source ?? String(value)} is ${String(value)}, which JSON cannot hold`, node);
      return value;
    }
    if (isSeq(node)) return node.items.map(decode);
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      mergeMapping(node, out);
      return out;
    }
    throw new KubectlDecodeError('unsupported YAML node', node as Node);
  };
  const mergeMapping = (node: Node, out: Record<string, unknown>): void => {
    if (!isMap(node)) throw new KubectlDecodeError('map merge requires map or sequence of maps as the value', node);
    for (const pair of node.items) {
      if (isMergeKey(pair.key)) {
        merge(pair.value as Node | null, out);
        continue;
      }
      const key = jsonKey(decode(pair.key), pair.key as Node | undefined);
      out[key] = decode(pair.value);
    }
  };
  const merge = (value: Node | null, out: Record<string, unknown>): void => {
    const target = isAlias(value) ? value.resolve(document) : value;
    if (isSeq(target)) {
      // Earlier maps take precedence: merged from the last to the first.
      for (const item of [...target.items].reverse()) {
        const map = isAlias(item) ? item.resolve(document) : item;
        mergeMapping(map as Node, out);
      }
      return;
    }
    mergeMapping(target as Node, out);
  };
  return decode(document.contents);
}

/** The ObjectMeta fields kubectl decodes into Go strings, and those it decodes into map[string]string. */
const STRING_FIELDS = ['name', 'generateName', 'namespace'] as const;
const STRING_MAPS = ['labels', 'annotations'] as const;

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a sequence';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'a mapping';
  return `the ${typeof value} ${JSON.stringify(value)}`;
}

/**
 * Why kubectl refuses this object's metadata ("cannot unmarshal number into
 * Go struct field ObjectMeta.metadata.namespace of type string"), with the
 * path of the field; undefined when it does not.
 */
export function metadataRefusal(object: Record<string, unknown>): { path: (string | number)[]; message: string } | undefined {
  if (!('metadata' in object) || object.metadata === null) return undefined;
  const metadata = object.metadata;
  if (!isRecord(metadata)) return { path: ['metadata'], message: `metadata is ${describe(metadata)}, not a mapping: kubectl refuses it` };
  for (const field of STRING_FIELDS) {
    const value = metadata[field];
    if (value === undefined || value === null || typeof value === 'string') continue;
    return {
      path: ['metadata', field],
      message: `metadata.${field} is ${describe(value)}, not a string, as kubectl reads YAML 1.1 (it refuses the object): quote it`,
    };
  }
  for (const field of STRING_MAPS) {
    const map = metadata[field];
    if (map === undefined || map === null) continue;
    if (!isRecord(map)) return { path: ['metadata', field], message: `metadata.${field} is ${describe(map)}, not a mapping of strings: kubectl refuses it` };
    for (const [key, value] of Object.entries(map)) {
      if (value === null || typeof value === 'string') continue;
      return {
        path: ['metadata', field, key],
        message: `metadata.${field}.${key} is ${describe(value)}, not a string, as kubectl reads YAML 1.1 (it refuses the object): quote it`,
      };
    }
  }
  return undefined;
}
