import type { ClusterView, Reconsider } from '../rules/clusterView.js';
import type { KubeObject } from '../rules/types.js';
import { InMemoryClusterView, type InMemoryClusterViewOptions } from './inMemoryClusterView.js';
import { loadManifests } from './manifests.js';

/** Where the cluster view comes from, and whether it can be trusted yet. */
export interface ClusterSource {
  readonly view: ClusterView;
  /** Why decisions cannot be trusted yet, or undefined once synced. */
  notReadyReason(): string | undefined;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Decides again against the source of truth before a denial, when there is one the view can lag. */
  reconsider?: Reconsider;
  /** The objects an audit runs the rules over, when the source keeps them (a live view for the policy reports). */
  auditedObjects?(): Iterable<KubeObject>;
}

/** A view read once from manifest files: the offline check and the embedded default. */
export async function manifestClusterSource(
  paths: readonly string[],
  viewOptions: InMemoryClusterViewOptions = {},
): Promise<ClusterSource & { view: InMemoryClusterView }> {
  const manifests = await loadManifests(paths);
  const view = InMemoryClusterView.fromObjects(
    manifests.map((m) => m.object),
    viewOptions,
  );
  return {
    view,
    notReadyReason: () => undefined,
    start: async () => {},
    stop: async () => {},
  };
}
