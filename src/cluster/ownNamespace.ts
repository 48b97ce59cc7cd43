import { existsSync, readFileSync } from 'node:fs';

const IN_CLUSTER_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** The namespace the webhook runs in: $POD_NAMESPACE, else the service account's, else `default`. */
export function ownNamespace(): string {
  return process.env.POD_NAMESPACE || (existsSync(IN_CLUSTER_NAMESPACE) ? readFileSync(IN_CLUSTER_NAMESPACE, 'utf8').trim() : '') || 'default';
}
