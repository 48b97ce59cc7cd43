import { hash as digest } from 'node:crypto';
import type { ClusterView, ReferenceFrom, ReferenceTo } from './clusterView.js';
import type { KubeObject } from './types.js';

const REFERENCE_GRANT_API_VERSION = 'gateway.networking.k8s.io/v1beta1';
/** metadata.name of a custom resource is a DNS-1123 subdomain: at most 253 characters. */
const MAX_NAME_LENGTH = 253;

/** Lower case; every run of characters other than [a-z0-9] one `-`; no `-` at either end. */
function dnsLabel(text: string): string {
  return text.toLowerCase().split(/[^a-z0-9]+/).filter(Boolean).join('-');
}

/**
 * A name of its own for each (from group/kind/namespace, to group/kind/name):
 * a readable part that names the referrer kind and namespace and the target,
 * and a hash of all six fields, since the readable part drops groups, case and
 * dots and may be cut. Two suggestions share a name only when they are the
 * same grant, so applying one never replaces another's `to` list.
 */
export function suggestedGrantName(from: ReferenceFrom, to: ReferenceTo, attempt = 1): string {
  return grantNames(from, to)(attempt);
}

/** The name for each attempt, the hash and the readable part computed once. */
function grantNames(from: ReferenceFrom, to: ReferenceTo): (attempt: number) => string {
  const hash = digest('sha256', JSON.stringify([from.group, from.kind, from.namespace, to.group, to.kind, to.name])).slice(0, 8);
  const readable = dnsLabel(`allow-${from.kind}-from-${from.namespace}-to-${to.kind}-${to.name}`);
  return (attempt) => {
    const suffix = attempt === 1 ? `-${hash}` : `-${hash}-${attempt}`;
    return `${readable.slice(0, MAX_NAME_LENGTH - suffix.length).replace(/-+$/, '')}${suffix}`;
  };
}

/**
 * The ReferenceGrant, in `to.namespace`, that lets `from` refer to `to` and
 * nothing else. Its name is one no grant in the view has yet: a grant of the
 * suggested name that does not already allow this reference was made or
 * changed by someone else (the view keeps only its from/to entries), so it
 * is left alone and the next free name is taken. Applying the suggestion
 * therefore only ever creates a grant; it never takes a permission away.
 * v1beta1 is served by every Gateway API release that has ReferenceGrant; v1
 * only from v1.5.
 */
export function suggestedReferenceGrant(from: ReferenceFrom, to: ReferenceTo, view: ClusterView): KubeObject {
  const taken = view.referenceGrantsIn(to.namespace);
  const nameFor = grantNames(from, to);
  let attempt = 1;
  let name = nameFor(attempt);
  while (taken.has(name)) name = nameFor(++attempt);
  return {
    apiVersion: REFERENCE_GRANT_API_VERSION,
    kind: 'ReferenceGrant',
    metadata: { name, namespace: to.namespace },
    spec: {
      from: [{ group: from.group, kind: from.kind, namespace: from.namespace }],
      to: [{ group: to.group, kind: to.kind, name: to.name }],
    },
  };
}
