import { existsSync, readFileSync } from 'node:fs';

const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/**
 * The namespace this pod runs in: $POD_NAMESPACE (the chart sets it from the
 * downward API), else the service account's namespace file; undefined
 * outside a pod.
 */
export function podNamespace(env: NodeJS.ProcessEnv = process.env, file = SERVICE_ACCOUNT_NAMESPACE): string | undefined {
  if (env.POD_NAMESPACE) return env.POD_NAMESPACE;
  if (!existsSync(file)) return undefined;
  return readFileSync(file, 'utf8').trim() || undefined;
}
