import type { ClusterView, GatewayClassParametersRef, GrantEntries, ReferenceFrom, Referrer, ReferenceTo } from '../rules/clusterView.js';
import { backendRefExtractor, type BackendRefExtractor } from '../rules/crossNamespaceBackendRefs.js';
import { ENFORCEMENT_LABEL } from '../rules/enforcement.js';
import type { RuleSettings } from '../rules/settings.js';
import { GATEWAY_API_GROUP, type KubeObject } from '../rules/types.js';
import { isRecord } from '../rules/objectPaths.js';
import { groupOf, namespaceOf } from '../rules/objectRequest.js';
import { ReferenceGrantIndex } from './referenceGrantIndex.js';

export function isReferenceGrant(object: KubeObject): boolean {
  return object.kind === 'ReferenceGrant' && groupOf(object.apiVersion) === GATEWAY_API_GROUP;
}

export function isNamespace(object: KubeObject): boolean {
  return object.kind === 'Namespace' && object.apiVersion === 'v1';
}

export function isGatewayClass(object: KubeObject): boolean {
  return object.kind === 'GatewayClass' && groupOf(object.apiVersion) === GATEWAY_API_GROUP;
}

const kindKey = (group: string, kind: string): string => `${group}/${kind}`;

/** What the rules read of a GatewayClass. */
export interface GatewayClassSummary {
  controllerName: string;
  parametersRef?: GatewayClassParametersRef;
}

function gatewayClassSummary(spec: unknown): GatewayClassSummary | undefined {
  if (!isRecord(spec) || typeof spec.controllerName !== 'string') return undefined;
  const ref = spec.parametersRef;
  if (!isRecord(ref)) return { controllerName: spec.controllerName };
  const text = (value: unknown): string => (typeof value === 'string' ? value : '');
  const parametersRef: GatewayClassParametersRef = { group: text(ref.group), kind: text(ref.kind), name: text(ref.name) };
  if (typeof ref.namespace === 'string' && ref.namespace !== '') parametersRef.namespace = ref.namespace;
  return { controllerName: spec.controllerName, parametersRef };
}

/**
 * The cluster view held in memory: fed whole from manifest files, or object by
 * object from watch events. Every question is answered from these maps.
 */
export class InMemoryClusterView implements ClusterView {
  readonly referenceGrants = new ReferenceGrantIndex();
  readonly gatewayClasses = new Map<string, GatewayClassSummary>();
  /** Objects of other kinds whose existence the rules ask about, by "group/kind" → "namespace/name". */
  private readonly tracked = new Map<string, Set<string>>();
  /** Objects with cross-namespace backendRefs, by target namespace → "group/kind/namespace/name". */
  private readonly referrers = new Map<string, Map<string, Referrer>>();
  /** The target namespaces of each referrer, to forget it on update or delete. */
  private readonly referrerNamespaces = new Map<string, string[]>();
  /**
   * The enforcement label of each Namespace that has one, and nothing else of
   * any Namespace: a cluster's thousands of unlabelled ones cost nothing.
   */
  private readonly namespaceEnforcements = new Map<string, string>();

  constructor(private readonly options: InMemoryClusterViewOptions = {}) {
    for (const { group, kind } of options.trackedKinds ?? []) this.tracked.set(kindKey(group, kind), new Set());
  }

  static fromObjects(objects: Iterable<KubeObject>, options: InMemoryClusterViewOptions = {}): InMemoryClusterView {
    const view = new InMemoryClusterView(options);
    for (const object of objects) view.upsert(object);
    return view;
  }

  /** Adds or replaces an object the view tracks; other kinds are ignored. */
  upsert(object: KubeObject): void {
    const name = object.metadata?.name;
    if (!name) return;
    if (isNamespace(object)) {
      this.upsertNamespace(object);
    } else if (isReferenceGrant(object)) {
      this.referenceGrants.upsert(namespaceOf(object), name, object.spec);
    } else if (isGatewayClass(object)) {
      const summary = gatewayClassSummary(object.spec);
      if (summary) this.gatewayClasses.set(name, summary);
      else this.gatewayClasses.delete(name);
    } else {
      this.tracked.get(kindKey(groupOf(object.apiVersion), object.kind ?? ''))?.add(`${namespaceOf(object)}/${name}`);
      this.indexReferrer(object);
    }
  }

  remove(object: KubeObject): void {
    const name = object.metadata?.name;
    if (!name) return;
    if (isNamespace(object)) this.removeNamespace(object);
    else if (isReferenceGrant(object)) this.referenceGrants.remove(namespaceOf(object), name);
    else if (isGatewayClass(object)) this.gatewayClasses.delete(name);
    else {
      this.tracked.get(kindKey(groupOf(object.apiVersion), object.kind ?? ''))?.delete(`${namespaceOf(object)}/${name}`);
      this.forgetReferrer(referrerKey(object));
    }
  }

  /** Every object of a kind the view holds, as namespace ('' when cluster-scoped) and name: what a full list reconciles. */
  *held(group: string, kind: string): Iterable<{ namespace: string; name: string }> {
    if (group === '' && kind === 'Namespace') {
      for (const name of this.namespaceEnforcements.keys()) yield { namespace: '', name };
      return;
    }
    if (group === GATEWAY_API_GROUP && kind === 'ReferenceGrant') {
      yield* this.referenceGrants.keys();
      return;
    }
    if (group === GATEWAY_API_GROUP && kind === 'GatewayClass') {
      for (const name of this.gatewayClasses.keys()) yield { namespace: '', name };
      return;
    }
    for (const key of this.tracked.get(kindKey(group, kind)) ?? []) {
      const slash = key.indexOf('/');
      yield { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
    }
    const prefix = `${kindKey(group, kind)}/`;
    for (const key of this.referrerNamespaces.keys()) {
      if (!key.startsWith(prefix)) continue;
      const rest = key.slice(prefix.length);
      const slash = rest.indexOf('/');
      yield { namespace: rest.slice(0, slash), name: rest.slice(slash + 1) };
    }
  }

  /**
   * A Namespace's labels, from a full object or its metadata alone (the live
   * watch asks for PartialObjectMetadata); only the enforcement label is kept.
   */
  upsertNamespace(object: KubeObject): void {
    const name = object.metadata?.name;
    if (!name) return;
    const label = object.metadata?.labels?.[ENFORCEMENT_LABEL];
    if (typeof label === 'string') this.namespaceEnforcements.set(name, label);
    else this.namespaceEnforcements.delete(name);
  }

  removeNamespace(object: KubeObject): void {
    const name = object.metadata?.name;
    if (name) this.namespaceEnforcements.delete(name);
  }

  namespaceEnforcement(namespace: string): string | undefined {
    return this.namespaceEnforcements.get(namespace);
  }

  isReferenceGranted(from: ReferenceFrom, to: ReferenceTo): boolean {
    return this.referenceGrants.isGranted(from, to);
  }

  gatewayClassController(className: string): string | undefined {
    return this.gatewayClasses.get(className)?.controllerName;
  }

  gatewayClassParametersRef(className: string): GatewayClassParametersRef | undefined {
    return this.gatewayClasses.get(className)?.parametersRef;
  }

  objectExists(group: string, kind: string, namespace: string, name: string): boolean | undefined {
    return this.tracked.get(kindKey(group, kind))?.has(`${namespace}/${name}`);
  }

  referenceGrantsIn(namespace: string): ReadonlyMap<string, GrantEntries> {
    return this.referenceGrants.grantsIn(namespace);
  }

  referrersInto(namespace: string): readonly Referrer[] {
    return [...(this.referrers.get(namespace)?.values() ?? [])];
  }

  private indexReferrer(object: KubeObject): void {
    const extract = this.options.backendRefs;
    if (!extract) return;
    const key = referrerKey(object);
    const from: ReferenceFrom = { group: groupOf(object.apiVersion), kind: object.kind ?? '', namespace: namespaceOf(object) };
    let refs;
    try {
      refs = extract(from.group, from.kind, object, from.namespace);
    } catch {
      // Too deep to read: such an object was never admitted by us.
      return;
    }
    if (refs === undefined) return;
    this.forgetReferrer(key);
    const byNamespace = new Map<string, ReferenceTo[]>();
    for (const { target } of refs) {
      if (target.namespace === from.namespace) continue;
      // Appended in place: copying the list for each ref was quadratic (a
      // 16,384-ref AgentgatewayBackend, the CRD's maximum, cost 0.7 s of every
      // watch event for it, status updates included).
      const targets = byNamespace.get(target.namespace);
      if (targets) targets.push(target);
      else byNamespace.set(target.namespace, [target]);
    }
    for (const [namespace, targets] of byNamespace) {
      let inNamespace = this.referrers.get(namespace);
      if (!inNamespace) {
        inNamespace = new Map();
        this.referrers.set(namespace, inNamespace);
      }
      inNamespace.set(key, { from, name: object.metadata?.name ?? '', targets });
    }
    if (byNamespace.size > 0) this.referrerNamespaces.set(key, [...byNamespace.keys()]);
  }

  private forgetReferrer(key: string): void {
    for (const namespace of this.referrerNamespaces.get(key) ?? []) {
      const inNamespace = this.referrers.get(namespace);
      inNamespace?.delete(key);
      if (inNamespace?.size === 0) this.referrers.delete(namespace);
    }
    this.referrerNamespaces.delete(key);
  }
}

export interface InMemoryClusterViewOptions {
  /** Kinds whose objects' existence is tracked (the parameters kind). */
  trackedKinds?: readonly { group: string; kind: string }[];
  /** Finds the backendRefs of the kinds that need ReferenceGrants, so grants' dependents are known. */
  backendRefs?: BackendRefExtractor;
}

/** What a cluster view must track for these settings: the parameters kind, and the kinds with backendRefs. */
export function viewOptionsFor(settings: RuleSettings): InMemoryClusterViewOptions {
  return {
    trackedKinds: [{ group: settings.parametersRef.group, kind: settings.parametersRef.kind }],
    backendRefs: backendRefExtractor(settings.backendRefKinds, settings.scanKinds),
  };
}

function referrerKey(object: KubeObject): string {
  return `${groupOf(object.apiVersion)}/${object.kind ?? ''}/${namespaceOf(object)}/${object.metadata?.name ?? ''}`;
}
