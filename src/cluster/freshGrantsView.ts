import { overlayView, type ClusterView } from '../rules/clusterView.js';
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
export function freshGrantsView(base: ClusterView, grants: ReadonlyMap<string, readonly ListedGrant[]>): ClusterView {
  const fresh = new ReferenceGrantIndex();
  for (const [namespace, list] of grants) fresh.replaceNamespace(namespace, list);
  return overlayView(base, {
    isReferenceGranted: (from, to) => (grants.has(to.namespace) ? fresh.isGranted(from, to) : base.isReferenceGranted(from, to)),
    referenceGrantsIn: (namespace) => (grants.has(namespace) ? fresh.grantsIn(namespace) : base.referenceGrantsIn(namespace)),
  });
}
