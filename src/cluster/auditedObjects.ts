import { SKIP_ANNOTATION } from '../rules/gatewayParametersRef.js';
import { compilePath, isRecord, MAX_SCAN_DEPTH, type CompiledPath } from '../rules/objectPaths.js';
import { groupOf, namespaceOf } from '../rules/objectRequest.js';
import type { RuleSettings } from '../rules/settings.js';
import { GATEWAY_API_GROUP, type KubeObject } from '../rules/types.js';
import { referrerKinds } from './watchedKinds.js';

/** The fields of a backendRef the rules read (Gateway API BackendObjectReference). */
const REF_FIELDS = ['group', 'kind', 'namespace', 'name'] as const;

function refFields(ref: Record<string, unknown>, into: Record<string, unknown> = {}): Record<string, unknown> {
  for (const field of REF_FIELDS) if (ref[field] !== undefined) into[field] = ref[field];
  return into;
}

/** Copies what lies at `path` under `source` into `target`, at the same places: arrays keep their indexes (sparse), so locations in messages stay true. */
function copyPath(source: Record<string, unknown>, path: CompiledPath, index: number, target: Record<string, unknown>): void {
  const { field, each } = path[index]!;
  const child = source[field];
  const last = index === path.length - 1;
  if (!each) {
    if (!isRecord(child)) return;
    const into = isRecord(target[field]) ? target[field] : (target[field] = {});
    if (last) refFields(child, into);
    else copyPath(child, path, index + 1, into);
    return;
  }
  if (!Array.isArray(child)) return;
  const items = Array.isArray(target[field]) ? (target[field] as unknown[]) : (target[field] = new Array<unknown>(child.length));
  for (let i = 0; i < child.length; i++) {
    const item: unknown = child[i];
    if (!isRecord(item)) continue;
    const into = isRecord(items[i]) ? (items[i] as Record<string, unknown>) : (items[i] = {});
    if (last) refFields(item, into);
    else copyPath(item, path, index + 1, into);
  }
}

/**
 * What the backendRef search of a kind without table row reads of a spec
 * (scanBackendRefs): every `backendRef` object and `backendRefs` item, at its
 * place; undefined where there is none. A spec nested past the search depth
 * becomes one that is too (the rules refuse to check it).
 */
function pruneForScan(node: unknown, depth: number, tooDeep: { found: boolean }): unknown {
  if (typeof node !== 'object' || node === null) return undefined;
  if (depth > MAX_SCAN_DEPTH) {
    tooDeep.found = true;
    return undefined;
  }
  if (Array.isArray(node)) {
    let kept: unknown[] | undefined;
    for (let i = 0; i < node.length; i++) {
      const item = pruneForScan(node[i], depth + 1, tooDeep);
      if (item !== undefined) (kept ??= new Array<unknown>(node.length))[i] = item;
    }
    return kept;
  }
  let kept: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(node)) {
    let slim = pruneForScan(value, depth + 1, tooDeep);
    if (key === 'backendRef' && isRecord(value)) slim = refFields(value, isRecord(slim) ? slim : {});
    else if (key === 'backendRefs' && Array.isArray(value)) {
      const items = Array.isArray(slim) ? slim : new Array<unknown>(value.length);
      value.forEach((item, i) => {
        if (isRecord(item)) items[i] = refFields(item, isRecord(items[i]) ? (items[i] as Record<string, unknown>) : {});
      });
      slim = items;
    }
    if (slim !== undefined) (kept ??= {})[key] = slim;
  }
  return kept;
}

function nestedPastScanDepth(): Record<string, unknown> {
  let node: Record<string, unknown> = {};
  for (let i = 0; i <= MAX_SCAN_DEPTH + 1; i++) node = { nested: node };
  return node;
}

/** The metadata the rules and the reports read: identity, deletion, and our skip annotation. */
function slimMetadata(metadata: KubeObject['metadata']): KubeObject['metadata'] {
  if (!metadata) return metadata;
  const skip = metadata.annotations?.[SKIP_ANNOTATION];
  return {
    ...(metadata.name !== undefined ? { name: metadata.name } : {}),
    ...(metadata.namespace !== undefined ? { namespace: metadata.namespace } : {}),
    ...(metadata.uid !== undefined ? { uid: metadata.uid } : {}),
    ...(metadata.deletionTimestamp !== undefined ? { deletionTimestamp: metadata.deletionTimestamp } : {}),
    ...(skip !== undefined ? { annotations: { [SKIP_ANNOTATION]: skip } } : {}),
  };
}

/** What the Gateway rule reads of a spec: the class name and the infrastructure's parametersRef. */
function slimGatewaySpec(spec: unknown): Record<string, unknown> | undefined {
  if (!isRecord(spec)) return undefined;
  const slim: Record<string, unknown> = {};
  if (typeof spec.gatewayClassName === 'string') slim.gatewayClassName = spec.gatewayClassName;
  const infrastructure = spec.infrastructure;
  if (isRecord(infrastructure)) {
    const ref = infrastructure.parametersRef;
    // Any value other than null or undefined is "a ref is there" to the patch; only an object's fields are read.
    slim.infrastructure = ref === undefined || ref === null ? {} : { parametersRef: isRecord(ref) ? { group: ref.group, kind: ref.kind, name: ref.name } : 0 };
  }
  return slim;
}

/**
 * The part of an object that the rules read, for the kinds an audit runs them
 * over (Gateways and the kinds with backendRefs): identity, the backendRefs
 * at the table's paths (or anywhere in the spec for a scanned kind), a
 * Gateway's class and parametersRef. The rules decide the same on it as on
 * the whole object; an AgentgatewayBackend of 1.4 MB of inline settings
 * keeps a few hundred bytes. Undefined for other kinds.
 */
export function ruleInputSlimmer(settings: Pick<RuleSettings, 'backendRefKinds' | 'scanKinds'>): (object: KubeObject) => KubeObject | undefined {
  const paths = new Map<string, CompiledPath[]>();
  for (const row of settings.backendRefKinds) {
    const key = `${row.group}/${row.kind}`;
    paths.set(key, [...(paths.get(key) ?? []), ...row.paths.map(compilePath)]);
  }
  const scanned = new Set(referrerKinds(settings).map((k) => `${k.group}/${k.kind}`).filter((key) => !paths.has(key)));
  return (object) => {
    const group = groupOf(object.apiVersion);
    const key = `${group}/${object.kind ?? ''}`;
    const identity = { apiVersion: object.apiVersion, kind: object.kind, metadata: slimMetadata(object.metadata) };
    if (group === GATEWAY_API_GROUP && object.kind === 'Gateway') {
      const spec = slimGatewaySpec(object.spec);
      return { ...identity, ...(spec ? { spec } : {}) };
    }
    const rowPaths = paths.get(key);
    if (rowPaths) {
      const slim: Record<string, unknown> = {};
      for (const path of rowPaths) copyPath(object as Record<string, unknown>, path, 0, slim);
      return { ...slim, ...identity };
    }
    if (!scanned.has(key)) return undefined;
    const tooDeep = { found: false };
    const spec = pruneForScan(object.spec, 0, tooDeep);
    return { ...identity, spec: tooDeep.found ? nestedPastScanDepth() : (spec ?? {}) };
  };
}

/**
 * The objects an audit runs the rules over (the policy reports on a live
 * view, `audit` on a snapshot), each only as much as the rules read
 * (ruleInputSlimmer), by group/kind/namespace/name.
 */
export class AuditedObjects {
  private readonly objects = new Map<string, KubeObject>();
  private readonly slim: (object: KubeObject) => KubeObject | undefined;

  constructor(settings: Pick<RuleSettings, 'backendRefKinds' | 'scanKinds'>) {
    this.slim = ruleInputSlimmer(settings);
  }

  /** Keeps the rules' part of an object of an audited kind (apiVersion and kind set); other kinds are ignored. */
  upsert(object: KubeObject): void {
    if (!object.metadata?.name) return;
    const slim = this.slim(object);
    if (slim) this.objects.set(keyOf(object), slim);
  }

  remove(object: KubeObject): void {
    this.objects.delete(keyOf(object));
  }

  /** Every object of a kind held, as namespace and name: what a full list reconciles. */
  *held(group: string, kind: string): Iterable<{ namespace: string; name: string }> {
    for (const object of this.objects.values()) {
      if (object.kind === kind && groupOf(object.apiVersion) === group) yield { namespace: object.metadata?.namespace ?? '', name: object.metadata?.name ?? '' };
    }
  }

  values(): IterableIterator<KubeObject> {
    return this.objects.values();
  }

  get size(): number {
    return this.objects.size;
  }
}

function keyOf(object: KubeObject): string {
  return `${groupOf(object.apiVersion)}/${object.kind ?? ''}/${namespaceOf(object)}/${object.metadata?.name ?? ''}`;
}
