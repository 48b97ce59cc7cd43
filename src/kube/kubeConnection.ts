import { existsSync } from 'node:fs';
import { PROFILE_SIGNAL_KINDS, profileForServedKinds, type ProfileName, type ServedKinds } from '../rules/profiles.js';
import type { KubeApi } from './kubeApi.js';
import { inClusterConfig, staticKubeConfigFromFile, type KubeConnectionConfig } from './kubeCredentials.js';

export interface KubeConnection {
  config: KubeConnectionConfig;
  /** Where the credentials came from, for the start-up log. */
  source: string;
}

/**
 * --kubeconfig, else $KUBECONFIG, else in-cluster credentials; undefined when
 * there are none. File and token credentials are read here; a kubeconfig
 * with exec or auth-provider users (or several $KUBECONFIG files to merge)
 * is handed to @kubernetes/client-node's KubeConfig, loaded only then.
 */
export async function loadKubeConnection(file: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<KubeConnection | undefined> {
  // As kubectl: files named in $KUBECONFIG that do not exist are skipped.
  const listed = (env.KUBECONFIG ?? '').split(':').filter(Boolean);
  const existing = listed.filter((f) => existsSync(f));
  if (file === undefined && listed.length > 0 && existing.length === 0) throw new Error(`none of the files in $KUBECONFIG exists: ${listed.join(', ')}`);
  const single = file ?? (existing.length === 1 ? existing[0] : undefined);
  if (single) {
    const found = staticKubeConfigFromFile(single);
    if (!('needsClientNode' in found)) return { config: found, source: single };
    const { KubeConfig } = await import('@kubernetes/client-node');
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(single);
    return { config: kubeConfig as unknown as KubeConnectionConfig, source: `${single} (client-node: ${found.needsClientNode})` };
  }
  if (existing.length > 1) {
    const kubeConfig = await mergedKubeConfig(existing);
    return { config: kubeConfig as unknown as KubeConnectionConfig, source: `$KUBECONFIG (client-node: several files)` };
  }
  const inCluster = inClusterConfig(env);
  return inCluster ? { config: inCluster, source: 'in-cluster service account' } : undefined;
}

/**
 * Several kubeconfig files merged as kubectl merges them: the first file's
 * current-context wins, and so does the first cluster, user or context of a
 * name (client-node's mergeConfig would throw on the repeat).
 */
export async function mergedKubeConfig(files: readonly string[]): Promise<import('@kubernetes/client-node').KubeConfig> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const [first, ...rest] = files;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(first!);
  for (const file of rest) {
    const more = new KubeConfig();
    more.loadFromFile(file);
    const unseen = <T extends { name: string }>(have: readonly T[], add: readonly T[]) => add.filter((a) => !have.some((h) => h.name === a.name));
    more.clusters = unseen(kubeConfig.clusters, more.clusters);
    more.users = unseen(kubeConfig.users, more.users);
    more.contexts = unseen(kubeConfig.contexts, more.contexts);
    kubeConfig.mergeConfig(more, true);
  }
  return kubeConfig;
}

/**
 * The profile a cluster's CRDs call for (profileForServedKinds: which of
 * a few kinds it serves). Retries while the API
 * server cannot be reached, up to `timeoutMs`.
 */
export async function detectProfile(api: KubeApi, timeoutMs = 30_000): Promise<ProfileName> {
  const deadline = Date.now() + timeoutMs;
  let delay = 250;
  for (;;) {
    try {
      const served = await Promise.all(PROFILE_SIGNAL_KINDS.map(async ({ group, kind, key }) => [key, (await api.discover(group, kind)) !== undefined] as const));
      return profileForServedKinds(Object.fromEntries(served) as unknown as ServedKinds);
    } catch (error) {
      if (Date.now() + delay > deadline) throw new Error(`cannot tell the profile from the cluster's CRDs: ${(error as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 5_000);
    }
  }
}
