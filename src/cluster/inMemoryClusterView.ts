import type { ClusterView, ReferenceFrom, ReferenceTo } from '../rules/clusterView.js';
import { GATEWAY_API_GROUP } from '../rules/gatewayParametersRef.js';
import type { KubeObject } from '../rules/types.js';
import { ReferenceGrantIndex } from './referenceGrantIndex.js';

export function groupOf(apiVersion: unknown): string {
  if (typeof apiVersion !== 'string') return '';
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

export function isReferenceGrant(object: KubeObject): boolean {
  return object.kind === 'ReferenceGrant' && groupOf(object.apiVersion) === GATEWAY_API_GROUP;
}

export function isGatewayClass(object: KubeObject): boolean {
  return object.kind === 'GatewayClass' && groupOf(object.apiVersion) === GATEWAY_API_GROUP;
}

const kindKey = (group: string, kind: string): string => `${group}/${kind}`;

/**
 * The cluster view held in memory: fed whole from manifest files, or object by
 * object from watch events. Every question is answered from these maps.
 */
export class InMemoryClusterView implements ClusterView {
  readonly referenceGrants = new ReferenceGrantIndex();
  readonly gatewayClasses = new Map<string, string>();
  /** Objects of other kinds whose existence the rules ask about, by "group/kind" → "namespace/name". */
  private readonly tracked = new Map<string, Set<string>>();

  constructor(trackedKinds: readonly { group: string; kind: string }[] = []) {
    for (const { group, kind } of trackedKinds) this.tracked.set(kindKey(group, kind), new Set());
  }

  static fromObjects(objects: Iterable<KubeObject>, trackedKinds: readonly { group: string; kind: string }[] = []): InMemoryClusterView {
    const view = new InMemoryClusterView(trackedKinds);
    for (const object of objects) view.upsert(object);
    return view;
  }

  /** Adds or replaces an object the view tracks; other kinds are ignored. */
  upsert(object: KubeObject): void {
    const name = object.metadata?.name;
    if (!name) return;
    if (isReferenceGrant(object)) {
      this.referenceGrants.upsert(object.metadata?.namespace || 'default', name, object.spec);
    } else if (isGatewayClass(object)) {
      const spec = object.spec as { controllerName?: unknown } | undefined;
      if (typeof spec?.controllerName === 'string') this.gatewayClasses.set(name, spec.controllerName);
      else this.gatewayClasses.delete(name);
    } else {
      this.tracked.get(kindKey(groupOf(object.apiVersion), object.kind ?? ''))?.add(`${object.metadata?.namespace || 'default'}/${name}`);
    }
  }

  remove(object: KubeObject): void {
    const name = object.metadata?.name;
    if (!name) return;
    if (isReferenceGrant(object)) this.referenceGrants.remove(object.metadata?.namespace || 'default', name);
    else if (isGatewayClass(object)) this.gatewayClasses.delete(name);
    else this.tracked.get(kindKey(groupOf(object.apiVersion), object.kind ?? ''))?.delete(`${object.metadata?.namespace || 'default'}/${name}`);
  }

  /** Forgets every object of one kind, before a fresh list of it. */
  clearKind(group: string, kind: string): void {
    if (group === GATEWAY_API_GROUP && kind === 'ReferenceGrant') this.referenceGrants.reset([]);
    else if (group === GATEWAY_API_GROUP && kind === 'GatewayClass') this.gatewayClasses.clear();
    else this.tracked.get(kindKey(group, kind))?.clear();
  }

  isReferenceGranted(from: ReferenceFrom, to: ReferenceTo): boolean {
    return this.referenceGrants.isGranted(from, to);
  }

  gatewayClassController(className: string): string | undefined {
    return this.gatewayClasses.get(className);
  }

  objectExists(group: string, kind: string, namespace: string, name: string): boolean | undefined {
    return this.tracked.get(kindKey(group, kind))?.has(`${namespace}/${name}`);
  }
}
