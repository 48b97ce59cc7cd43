import { collectionPath, NAMESPACES, type KubeApi } from '../kube/kubeApi.js';
import { ENFORCEMENT_LABEL } from '../rules/enforcement.js';
import type { RuleSettings } from '../rules/settings.js';
import { GATEWAY_API_GROUP, type KubeObject } from '../rules/types.js';

/**
 * What a live cluster holds that the rules read besides the object itself:
 * ReferenceGrants, GatewayClasses, the parameters objects, and the Namespaces
 * with the enforcement label (their metadata only). `check --kubeconfig`
 * decides its input against these, as `kyverno apply --cluster` does.
 */
export async function readClusterState(api: KubeApi, settings: RuleSettings): Promise<KubeObject[]> {
  const kinds = [
    { group: GATEWAY_API_GROUP, kind: 'ReferenceGrant' },
    { group: GATEWAY_API_GROUP, kind: 'GatewayClass' },
    { group: settings.parametersRef.group, kind: settings.parametersRef.kind },
  ];
  const namespaces = await api.listAll(collectionPath(NAMESPACES, 'v1'), undefined, { labelSelector: ENFORCEMENT_LABEL, metadataOnly: true });
  const objects: KubeObject[] = (namespaces.items as KubeObject[]).map((item) => ({ ...item, apiVersion: 'v1', kind: 'Namespace' }));
  for (const { group, kind } of kinds) {
    const resource = await api.discover(group, kind);
    if (!resource) continue;
    // Every served version reads the same to the rules (ReferenceGrant v1beta1 and v1); v1 when there is one.
    const version = resource.versions.includes('v1') ? 'v1' : resource.versions[0]!;
    const list = await api.listAll(collectionPath(resource, version));
    for (const item of list.items as KubeObject[]) objects.push({ ...item, apiVersion: group ? `${group}/${version}` : version, kind });
  }
  return objects;
}
