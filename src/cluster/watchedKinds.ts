import { NAMESPACES, type DiscoveredResource, type KubeApi, type ListOptions } from '../kube/kubeApi.js';
import { ENFORCEMENT_LABEL } from '../rules/enforcement.js';
import { knownVersions } from '../rules/ruleSet.js';
import type { RuleSettings } from '../rules/settings.js';
import { GATEWAY_API_GROUP } from '../rules/types.js';

/** One kind a cluster view reads from the API server, and how its list is narrowed. */
export interface WatchedKind {
  group: string;
  kind: string;
  listOptions?: ListOptions;
}

export interface WatchedKindsOptions {
  /**
   * The rules are also run over every stored object (`audit`, the policy
   * reports): Gateways and every kind with backendRefs are read, whatever the
   * grant guard says.
   */
  audit: boolean;
}

/**
 * What a view of these settings reads, the one answer `serve`, `audit` and
 * the reports share: ReferenceGrants, GatewayClasses, the parameters kind,
 * the Namespaces labelled with the enforcement label (their metadata only),
 * and the kinds with backendRefs when the grant guard needs them (which
 * objects depend on a grant) or an audit does. Validating one object needs
 * only the object itself, so with the guard off and no audit none of those
 * is read, nor needs list/watch in RBAC: AgentgatewayBackends and
 * AgentgatewayPolicies may carry inline credentials.
 */
export function watchedKinds(settings: RuleSettings, options: WatchedKindsOptions = { audit: false }): WatchedKind[] {
  const kinds: WatchedKind[] = [
    { group: GATEWAY_API_GROUP, kind: 'ReferenceGrant' },
    { group: GATEWAY_API_GROUP, kind: 'GatewayClass' },
    { group: settings.parametersRef.group, kind: settings.parametersRef.kind },
  ];
  if (options.audit) kinds.push({ group: GATEWAY_API_GROUP, kind: 'Gateway' });
  if (options.audit || settings.grantGuard !== 'off') kinds.push(...referrerKinds(settings));
  kinds.push({ group: NAMESPACES.group, kind: NAMESPACES.kind, listOptions: { labelSelector: ENFORCEMENT_LABEL, metadataOnly: true } });
  return [...new Map(kinds.map((k) => [`${k.group}/${k.kind}`, k])).values()];
}

/** The kinds whose backendRefs need grants: the table's rows and the scanned kinds, once each. */
export function referrerKinds(settings: Pick<RuleSettings, 'backendRefKinds' | 'scanKinds'>): { group: string; kind: string }[] {
  const kinds = new Map<string, { group: string; kind: string }>();
  for (const { group, kind } of [...settings.backendRefKinds, ...settings.scanKinds]) kinds.set(`${group}/${kind}`, { group, kind });
  return [...kinds.values()];
}

/** Gateway API kinds the rules do not read the spec of (GatewayClass) are still read at its stable versions first. */
const GATEWAY_API_VERSIONS = ['v1', 'v1beta1'];

/**
 * The version a kind is read at: the first the rules were written against
 * (knownVersions) that the API server serves, else the group's preferred
 * version. ReferenceGrant: v1 where served, else v1beta1 (the same stored
 * objects).
 */
export function versionFor(resource: DiscoveredResource, settings: Pick<RuleSettings, 'backendRefKinds'>): string {
  const known = knownVersions(settings).get(`${resource.group}/${resource.kind}`) ?? (resource.group === GATEWAY_API_GROUP ? GATEWAY_API_VERSIONS : []);
  return known.find((v) => resource.versions.includes(v)) ?? resource.versions[0]!;
}

/** A kind as the API server serves it, at the version it is read at; undefined when it is not served. */
export async function discoverVersion(
  api: KubeApi,
  kind: { group: string; kind: string },
  settings: Pick<RuleSettings, 'backendRefKinds'>,
): Promise<{ resource: DiscoveredResource; version: string } | undefined> {
  if (kind.group === NAMESPACES.group && kind.kind === NAMESPACES.kind) return { resource: NAMESPACES, version: 'v1' };
  const resource = await api.discover(kind.group, kind.kind);
  return resource ? { resource, version: versionFor(resource, settings) } : undefined;
}
