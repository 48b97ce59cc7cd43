import { GATEWAY_API_GROUP } from '../rules/gatewayParametersRef.js';
import type { ClusterView, ReferenceFrom, ReferenceTo } from '../rules/clusterView.js';
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

/**
 * The cluster view held in memory: fed whole from manifest files, or object by
 * object from watch events. Every question is answered from these maps.
 */
export class InMemoryClusterView implements ClusterView {
  readonly referenceGrants = new ReferenceGrantIndex();
  readonly gatewayClasses = new Map<string, string>();

  static fromObjects(objects: Iterable<KubeObject>): InMemoryClusterView {
    const view = new InMemoryClusterView();
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
    }
  }

  remove(object: KubeObject): void {
    const name = object.metadata?.name;
    if (!name) return;
    if (isReferenceGrant(object)) this.referenceGrants.remove(object.metadata?.namespace || 'default', name);
    else if (isGatewayClass(object)) this.gatewayClasses.delete(name);
  }

  isReferenceGranted(from: ReferenceFrom, to: ReferenceTo): boolean {
    return this.referenceGrants.isGranted(from, to);
  }

  gatewayClassController(className: string): string | undefined {
    return this.gatewayClasses.get(className);
  }
}
