export interface KubeconfigOptions {
  server: string;
  caPem: string;
  clientCertPem?: string;
  clientKeyPem?: string;
  token?: string;
  name?: string;
  user?: string;
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** Builds a kubeconfig YAML/JSON string with embedded data (JSON is valid YAML). */
export function buildKubeconfig({ server, caPem, clientCertPem, clientKeyPem, token, name = 'kga-test', user = 'admin' }: KubeconfigOptions): string {
  const userEntry: Record<string, string> = {};
  if (clientCertPem) userEntry['client-certificate-data'] = b64(clientCertPem);
  if (clientKeyPem) userEntry['client-key-data'] = b64(clientKeyPem);
  if (token) userEntry.token = token;
  return (
    JSON.stringify(
      {
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name, cluster: { server, 'certificate-authority-data': b64(caPem) } }],
        users: [{ name: user, user: userEntry }],
        contexts: [{ name, context: { cluster: name, user } }],
        'current-context': name,
        preferences: {},
      },
      null,
      2,
    ) + '\n'
  );
}
