import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { profileForServedKinds, type ProfileName } from '../config/profiles.js';
import type { KubeApi } from './kubeApi.js';

const IN_CLUSTER_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** --kubeconfig, else $KUBECONFIG, else in-cluster credentials; undefined when there are none. */
export function loadKubeConfig(file: string | undefined): KubeConfig | undefined {
  const kubeConfig = new KubeConfig();
  if (file) {
    kubeConfig.loadFromFile(file);
    return kubeConfig;
  }
  if (process.env.KUBECONFIG) {
    kubeConfig.loadFromDefault();
    return kubeConfig;
  }
  if (process.env.KUBERNETES_SERVICE_HOST && existsSync(IN_CLUSTER_TOKEN)) {
    kubeConfig.loadFromCluster();
    return kubeConfig;
  }
  return undefined;
}

/**
 * The profile a cluster's CRDs call for: agentgateway-v2.2 when it serves
 * AgentgatewayParameters, kgateway-v2.1 otherwise. Retries while the API
 * server cannot be reached, up to `timeoutMs`.
 */
export async function detectProfile(api: KubeApi, timeoutMs = 30_000): Promise<ProfileName> {
  const deadline = Date.now() + timeoutMs;
  let delay = 250;
  for (;;) {
    try {
      const resource = await api.discover('agentgateway.dev', 'AgentgatewayParameters');
      return profileForServedKinds(resource !== undefined);
    } catch (error) {
      if (Date.now() + delay > deadline) throw new Error(`cannot tell the profile from the cluster's CRDs: ${(error as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 5_000);
    }
  }
}
