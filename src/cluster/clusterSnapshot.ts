import { collectionPath, NAMESPACES, type KubeApi } from '../kube/kubeApi.js';
import type { RuleSettings } from '../rules/settings.js';
import type { KubeObject } from '../rules/types.js';
import { AuditedObjects } from './auditedObjects.js';
import { InMemoryClusterView, viewOptionsFor } from './inMemoryClusterView.js';
import { discoverVersion, watchedKinds } from './watchedKinds.js';

export interface ClusterSnapshot {
  view: InMemoryClusterView;
  /** The objects the rules run over (Gateways and the kinds with backendRefs), each only as much as the rules read. */
  objects: KubeObject[];
}

/**
 * What an audit reads of a cluster, once (`audit`): the kinds watchedKinds
 * names for an audit, each at the version it is read at, into a view and the
 * list of objects the rules run over.
 */
export async function readClusterSnapshot(api: KubeApi, settings: RuleSettings, progress: (text: string) => void = () => {}): Promise<ClusterSnapshot> {
  const view = new InMemoryClusterView(viewOptionsFor(settings));
  const audited = new AuditedObjects(settings);
  for (const kind of watchedKinds(settings, { audit: true })) {
    progress(`discovering ${kind.kind}…`);
    const served = await discoverVersion(api, kind, settings);
    if (!served) continue;
    const { resource, version } = served;
    const apiVersion = resource.group ? `${resource.group}/${version}` : version;
    let read = 0;
    await api.listPages(
      collectionPath(resource, version),
      (items) => {
        for (const item of items as KubeObject[]) {
          if (resource === NAMESPACES) view.upsertNamespace(item);
          else {
            const object = { ...item, apiVersion, kind: resource.kind };
            view.upsert(object);
            audited.upsert(object);
          }
        }
        read += items.length;
        progress(`listing ${resource.plural}: ${read}`);
      },
      kind.listOptions,
    );
  }
  return { view, objects: [...audited.values()] };
}
