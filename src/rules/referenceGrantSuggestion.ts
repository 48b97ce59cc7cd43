import { stringify } from 'yaml';
import type { ReferenceFrom, ReferenceTo } from './clusterView.js';

const REFERENCE_GRANT_API_VERSION = 'gateway.networking.k8s.io/v1beta1';

function dnsLabel(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
}

/** A stable, valid object name that says what the grant is for. */
export function suggestedGrantName(from: ReferenceFrom): string {
  return dnsLabel(`allow-${from.kind}-from-${from.namespace}`).slice(0, 253).replace(/-$/, '');
}

/**
 * The ReferenceGrant that would allow every one of `targets` (all in one
 * namespace) from `from`, as YAML ready for `kubectl apply -f -`. v1beta1 is
 * served by every Gateway API release that has ReferenceGrant; v1 only from
 * v1.5.
 */
export function referenceGrantYaml(from: ReferenceFrom, targets: readonly ReferenceTo[]): string {
  const namespace = targets[0]?.namespace ?? '';
  const to = new Map<string, { group: string; kind: string; name: string }>();
  for (const target of targets) {
    const key = `${target.group}/${target.kind}/${target.name}`;
    if (!to.has(key)) to.set(key, { group: target.group, kind: target.kind, name: target.name });
  }
  return stringify(
    {
      apiVersion: REFERENCE_GRANT_API_VERSION,
      kind: 'ReferenceGrant',
      metadata: { name: suggestedGrantName(from), namespace },
      spec: { from: [{ group: from.group, kind: from.kind, namespace: from.namespace }], to: [...to.values()] },
    },
    { defaultStringType: 'PLAIN', defaultKeyType: 'PLAIN' },
  );
}
