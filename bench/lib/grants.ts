// ReferenceGrants for the scale test, as an API server lists them after
// `kubectl apply` (uid, resourceVersion, last-applied annotation, managedFields).
// Grant i lives in ns-(i mod namespaces) and lets HTTPListenerPolicies of
// app-(i mod 50) (and of kgateway, every tenth one) and HTTPRoutes refer to
// Service svc-i there.

export function grantNamespace(i: number, namespaces: number): string {
  return `ns-${String(i % namespaces).padStart(4, '0')}`;
}

function hex(n: number, width: number): string {
  return (n >>> 0).toString(16).padStart(width, '0').slice(-width);
}

/** Grant i: { spec } only, or the full listed object when full is true. */
export function grant(i: number, namespaces: number, { full = false }: { full?: boolean } = {}): Record<string, unknown> {
  const namespace = grantNamespace(i, namespaces);
  const name = `grant-${i}`;
  const spec = {
    from: [
      { group: 'gateway.kgateway.dev', kind: 'HTTPListenerPolicy', namespace: i % 10 === 0 ? 'kgateway' : `app-${i % 50}` },
      { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: `app-${i % 50}` },
    ],
    to: [{ group: '', kind: 'Service', name: `svc-${i}` }],
  };
  if (!full) {
    return { apiVersion: 'gateway.networking.k8s.io/v1beta1', kind: 'ReferenceGrant', metadata: { name, namespace }, spec };
  }
  const applied = { apiVersion: 'gateway.networking.k8s.io/v1beta1', kind: 'ReferenceGrant', metadata: { annotations: {}, name, namespace }, spec };
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'ReferenceGrant',
    metadata: {
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': `${JSON.stringify(applied)}\n` },
      creationTimestamp: '2026-01-15T09:30:00Z',
      generation: 1,
      managedFields: [
        {
          apiVersion: 'gateway.networking.k8s.io/v1beta1',
          fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:metadata': { 'f:annotations': { '.': {}, 'f:kubectl.kubernetes.io/last-applied-configuration': {} } },
            'f:spec': { '.': {}, 'f:from': {}, 'f:to': {} },
          },
          manager: 'kubectl-client-side-apply',
          operation: 'Update',
          time: '2026-01-15T09:30:00Z',
        },
      ],
      name,
      namespace,
      resourceVersion: String(1000 + i),
      uid: `${hex(i * 2654435761, 8)}-${hex(i, 4)}-4${hex(i >> 4, 3)}-8${hex(i >> 8, 3)}-${hex(i * 40503, 12)}`,
    },
    spec,
  };
}
