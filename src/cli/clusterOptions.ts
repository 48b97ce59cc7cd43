import { connectAsKubectl } from '../kube/kubectlConnection.js';
import type { KubeConnection } from '../kube/kubeConnection.js';
import { UsageError } from './usage.js';

/** The options kubectl users expect for finding a cluster and a namespace. */
export const CLUSTER_OPTIONS = {
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
} as const;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** -n/--namespace, checked as the API server checks a namespace name. */
export function namespaceOption(command: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!DNS_LABEL.test(value)) throw new UsageError(`${command}: --namespace must be a DNS label (lower-case letters, digits, '-'), got ${JSON.stringify(value)}`);
  return value;
}

/** The cluster as kubectl would find it; a kubeconfig that cannot be used is a usage error. */
export async function clusterConnection(command: string, values: { kubeconfig?: string; context?: string }): Promise<KubeConnection | undefined> {
  try {
    return await connectAsKubectl({ ...(values.kubeconfig !== undefined ? { kubeconfig: values.kubeconfig } : {}), ...(values.context !== undefined ? { context: values.context } : {}) });
  } catch (error) {
    throw new UsageError(`${command}: cannot load the kubeconfig: ${(error as Error).message}`);
  }
}
