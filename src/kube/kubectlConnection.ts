import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { loadKubeConnection, mergedKubeConfig, type KubeConnection } from './kubeConnection.js';
import type { KubeConnectionConfig } from './kubeCredentials.js';

export interface KubectlConnectionOptions {
  /** --kubeconfig FILE */
  kubeconfig?: string;
  /** --context NAME: instead of the kubeconfig's current-context. */
  context?: string;
}

/**
 * A cluster found as kubectl finds it (client-go's clientcmd loading rules):
 * --kubeconfig, else the files in $KUBECONFIG (merged), else ~/.kube/config,
 * else the pod's service account; --context picks a context other than the
 * current one. Undefined when there is none of these.
 */
export async function connectAsKubectl(options: KubectlConnectionOptions, env: NodeJS.ProcessEnv = process.env, home: string = homedir()): Promise<KubeConnection | undefined> {
  const homeConfig = join(home, '.kube', 'config');
  const file = options.kubeconfig ?? (!env.KUBECONFIG && existsSync(homeConfig) ? homeConfig : undefined);
  if (options.context === undefined) return loadKubeConnection(file, env);
  const files = file ? [file] : (env.KUBECONFIG ?? '').split(':').filter((f) => f && existsSync(f));
  if (files.length === 0) throw new Error(`--context ${options.context}: no kubeconfig (give --kubeconfig FILE, set KUBECONFIG, or create ${homeConfig})`);
  const kubeConfig = await mergedKubeConfig(files);
  if (!kubeConfig.contexts.some((c) => c.name === options.context)) {
    throw new Error(`context "${options.context}" does not exist in ${files.join(', ')} (there are: ${kubeConfig.contexts.map((c) => c.name).join(', ') || 'none'})`);
  }
  kubeConfig.setCurrentContext(options.context);
  return { config: kubeConfig as unknown as KubeConnectionConfig, source: `${files.join(':')} (context ${options.context})` };
}
