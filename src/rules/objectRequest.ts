import type { AdmissionRequest, KubeObject } from './types.js';

// Kinds a manifest may hold that live outside namespaces: the built-in ones a
// GitOps tree commonly carries and the Gateway API's GatewayClass. An offline
// run cannot ask discovery; a CRD in the same input can add more
// (customResourceDefinitionScopes).
const BUILT_IN_CLUSTER_SCOPED = [
  '/Namespace',
  '/Node',
  '/PersistentVolume',
  '/ComponentStatus',
  'rbac.authorization.k8s.io/ClusterRole',
  'rbac.authorization.k8s.io/ClusterRoleBinding',
  'apiextensions.k8s.io/CustomResourceDefinition',
  'admissionregistration.k8s.io/MutatingWebhookConfiguration',
  'admissionregistration.k8s.io/ValidatingWebhookConfiguration',
  'admissionregistration.k8s.io/ValidatingAdmissionPolicy',
  'admissionregistration.k8s.io/ValidatingAdmissionPolicyBinding',
  'apiregistration.k8s.io/APIService',
  'storage.k8s.io/StorageClass',
  'storage.k8s.io/CSIDriver',
  'storage.k8s.io/CSINode',
  'storage.k8s.io/VolumeAttachment',
  'scheduling.k8s.io/PriorityClass',
  'node.k8s.io/RuntimeClass',
  'networking.k8s.io/IngressClass',
  'flowcontrol.apiserver.k8s.io/FlowSchema',
  'flowcontrol.apiserver.k8s.io/PriorityLevelConfiguration',
  'certificates.k8s.io/CertificateSigningRequest',
  'gateway.networking.k8s.io/GatewayClass',
];

/**
 * An object's namespace: its own, else `fallback` (the request's), else
 * `default`, where the API server puts a namespaced object that names none.
 */
export function namespaceOf(object: KubeObject | null | undefined, fallback?: string): string {
  return object?.metadata?.namespace || fallback || 'default';
}

/** The group of an apiVersion: '' for the core group's `v1`, and for a missing or non-string apiVersion. */
export function groupOf(apiVersion: unknown): string {
  if (typeof apiVersion !== 'string') return '';
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

function versionOf(apiVersion: string): string {
  return apiVersion.slice(apiVersion.indexOf('/') + 1);
}

/** `group/kind` keys of the cluster-scoped kinds that CustomResourceDefinitions among `objects` declare. */
export function customResourceDefinitionScopes(objects: Iterable<KubeObject>): Set<string> {
  const keys = new Set<string>();
  for (const object of objects) {
    if (object.kind !== 'CustomResourceDefinition' || groupOf(object.apiVersion ?? '') !== 'apiextensions.k8s.io') continue;
    const spec = object.spec as { group?: unknown; scope?: unknown; names?: { kind?: unknown } } | undefined;
    if (spec?.scope === 'Cluster' && typeof spec.group === 'string' && typeof spec.names?.kind === 'string') keys.add(`${spec.group}/${spec.names.kind}`);
  }
  return keys;
}

/** Whether objects of this apiVersion and kind have no namespace. */
export function isClusterScoped(apiVersion: string, kind: string, extra: ReadonlySet<string> = new Set()): boolean {
  const key = `${groupOf(apiVersion)}/${kind}`;
  return BUILT_IN_CLUSTER_SCOPED.includes(key) || extra.has(key);
}

/**
 * The CREATE request the API server would send for a manifest: a namespaced
 * object without a namespace lands in `default` (kubectl's default context
 * namespace); a cluster-scoped one has none.
 */
export function createRequestFor(object: KubeObject, uid: string, clusterScoped: boolean): AdmissionRequest {
  const apiVersion = object.apiVersion ?? '';
  const namespace = clusterScoped ? undefined : namespaceOf(object);
  return {
    uid,
    kind: { group: groupOf(apiVersion), version: versionOf(apiVersion), kind: object.kind ?? '' },
    operation: 'CREATE',
    ...(namespace === undefined ? {} : { namespace }),
    name: object.metadata?.name ?? '',
    object: namespace === undefined ? object : { ...object, metadata: { ...object.metadata, namespace } },
  };
}
