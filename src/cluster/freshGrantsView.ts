import type { ClusterView, GatewayClassParametersRef, ReferenceFrom, Referrer, ReferenceTo } from '../rules/clusterView.js';
import type { GrantEntries } from '../rules/clusterView.js';
import { ReferenceGrantIndex } from './referenceGrantIndex.js';

export interface ListedGrant {
  name: string;
  spec: unknown;
}

/**
 * A view that answers for the ReferenceGrants of some namespaces from a
 * scratch copy read just now, and for everything else from `base`. The copy is
 * never written into `base`: the watch alone feeds that, so a read older than
 * the last event cannot bring back a deleted grant (controller-runtime's
 * APIReader: direct reads bypass the cache instead of filling it).
 */
export class FreshGrantsView implements ClusterView {
  private readonly fresh = new ReferenceGrantIndex();
  private readonly namespaces = new Set<string>();

  constructor(
    private readonly base: ClusterView,
    grants: ReadonlyMap<string, readonly ListedGrant[]>,
  ) {
    for (const [namespace, list] of grants) {
      this.namespaces.add(namespace);
      this.fresh.replaceNamespace(namespace, list);
    }
  }

  isReferenceGranted(from: ReferenceFrom, to: ReferenceTo): boolean {
    return this.namespaces.has(to.namespace) ? this.fresh.isGranted(from, to) : this.base.isReferenceGranted(from, to);
  }

  referenceGrantsIn(namespace: string): ReadonlyMap<string, GrantEntries> {
    return this.namespaces.has(namespace) ? this.fresh.grantsIn(namespace) : this.base.referenceGrantsIn(namespace);
  }

  gatewayClassController(className: string): string | undefined {
    return this.base.gatewayClassController(className);
  }

  gatewayClassParametersRef(className: string): GatewayClassParametersRef | undefined {
    return this.base.gatewayClassParametersRef(className);
  }

  objectExists(group: string, kind: string, namespace: string, name: string): boolean | undefined {
    return this.base.objectExists(group, kind, namespace, name);
  }

  referrersInto(namespace: string): readonly Referrer[] {
    return this.base.referrersInto(namespace);
  }

  namespaceEnforcement(namespace: string): string | undefined {
    return this.base.namespaceEnforcement(namespace);
  }
}
