import { existsSync, readFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import path from 'node:path';
import { parse } from 'yaml';

/**
 * What the webhook needs of a kubeconfig: the API server, TLS and auth on a
 * node:https request (kubeApi.ts: requests, lists and watches). Both
 * client-node's KubeConfig and StaticKubeConfig have it.
 */
export interface KubeConnectionConfig {
  getCurrentCluster(): { readonly name: string; readonly server: string } | null;
  applyToHTTPSOptions(options: RequestOptions): Promise<void>;
}

export interface StaticCluster {
  name: string;
  server: string;
  ca?: Buffer;
  skipTLSVerify?: boolean;
  tlsServerName?: string;
}

export interface StaticUser {
  cert?: Buffer;
  key?: Buffer;
  token?: string;
  /** Re-read at most once a minute: projected service-account tokens rotate. */
  tokenFile?: string;
  username?: string;
  password?: string;
  impersonate?: string;
}

const TOKEN_FILE_TTL_MS = 60_000;

/**
 * Credentials that are files or values (client certificate, token, token
 * file, basic auth) for one cluster. client-node's KubeConfig imports its
 * whole generated API client (~50 MiB resident) to offer the same plus
 * exec and auth-provider plugins; those kubeconfigs still go to it
 * (loadKubeConnection).
 */
export class StaticKubeConfig implements KubeConnectionConfig {
  private token: { value: string; readAt: number } | undefined;

  constructor(
    readonly cluster: StaticCluster,
    readonly user: StaticUser,
  ) {}

  getCurrentCluster(): { name: string; server: string; skipTLSVerify: boolean } {
    return { name: this.cluster.name, server: this.cluster.server, skipTLSVerify: this.cluster.skipTLSVerify === true };
  }

  async applyToHTTPSOptions(options: RequestOptions): Promise<void> {
    Object.assign(options, this.tlsOptions());
    options.headers = { ...(options.headers as Record<string, string> | undefined), ...this.headers() };
  }

  private tlsOptions(): { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean; servername?: string } {
    return {
      ...(this.cluster.ca ? { ca: this.cluster.ca } : {}),
      ...(this.user.cert ? { cert: this.user.cert } : {}),
      ...(this.user.key ? { key: this.user.key } : {}),
      ...(this.cluster.skipTLSVerify ? { rejectUnauthorized: false } : {}),
      ...(this.cluster.tlsServerName ? { servername: this.cluster.tlsServerName } : {}),
    };
  }

  private headers(): Record<string, string> {
    const headers: Record<string, string> = {};
    const token = this.currentToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    else if (this.user.username !== undefined) {
      headers.Authorization = `Basic ${Buffer.from(`${this.user.username}:${this.user.password ?? ''}`).toString('base64')}`;
    }
    if (this.user.impersonate) headers['Impersonate-User'] = this.user.impersonate;
    return headers;
  }

  private currentToken(): string | undefined {
    if (this.user.token) return this.user.token;
    if (!this.user.tokenFile) return undefined;
    const now = Date.now();
    if (!this.token || now - this.token.readAt > TOKEN_FILE_TTL_MS) {
      try {
        this.token = { value: readFileSync(this.user.tokenFile, 'utf8').trim(), readAt: now };
      } catch (error) {
        // The kubelet swaps the projected token by symlink; a read that lands
        // mid-swap keeps the last token, which stays valid well past a minute.
        if (!this.token) throw new Error(`cannot read the token file ${this.user.tokenFile}: ${(error as Error).message}`);
        this.token.readAt = now;
      }
    }
    return this.token.value;
  }
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The pod's own service account, as client-go's rest.InClusterConfig reads it; undefined outside a pod. */
export function inClusterConfig(env: NodeJS.ProcessEnv = process.env, dir = SERVICE_ACCOUNT_DIR): StaticKubeConfig | undefined {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  const tokenFile = path.join(dir, 'token');
  if (!host || !port || !existsSync(tokenFile)) return undefined;
  const caFile = path.join(dir, 'ca.crt');
  return new StaticKubeConfig(
    { name: 'inCluster', server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`, ...(existsSync(caFile) ? { ca: readFileSync(caFile) } : {}) },
    { tokenFile },
  );
}

type Named<T> = { name?: unknown } & Record<string, T>;

/**
 * The current context of a kubeconfig file as StaticKubeConfig, or the
 * reason it needs client-node's KubeConfig (exec or auth-provider users,
 * proxies). Paths in the file are relative to it, as kubectl reads them.
 */
export function staticKubeConfigFromFile(file: string): StaticKubeConfig | { needsClientNode: string } {
  const text = readFileSync(file, 'utf8');
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (error) {
    throw new Error(`${file}: not YAML: ${(error as Error).message}`);
  }
  const config = (doc ?? {}) as { 'current-context'?: unknown; contexts?: unknown; clusters?: unknown; users?: unknown };
  const find = (list: unknown, name: unknown, what: string): Record<string, unknown> => {
    const entry = (Array.isArray(list) ? (list as Named<unknown>[]) : []).find((e) => e?.name === name);
    const inner = entry?.[what];
    if (!entry || typeof inner !== 'object' || inner === null) throw new Error(`${file}: no ${what} named ${JSON.stringify(name)}`);
    return inner as Record<string, unknown>;
  };
  const current = config['current-context'];
  if (typeof current !== 'string' || !current) throw new Error(`${file}: no current-context`);
  const context = find(config.contexts, current, 'context');
  const cluster = find(config.clusters, context.cluster, 'cluster');
  const user = context.user === undefined ? {} : find(config.users, context.user, 'user');
  if (user.exec) return { needsClientNode: 'the user runs an exec credential plugin' };
  if (user['auth-provider']) return { needsClientNode: 'the user has an auth-provider' };
  if (cluster['proxy-url']) return { needsClientNode: 'the cluster is reached through a proxy' };
  const dir = path.dirname(path.resolve(file));
  const str = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);
  const bytes = (fileKey: unknown, dataKey: unknown): Buffer | undefined => {
    const data = str(dataKey);
    if (data) return Buffer.from(data, 'base64');
    const name = str(fileKey);
    return name ? readFileSync(path.resolve(dir, name)) : undefined;
  };
  const server = str(cluster.server);
  if (!server) throw new Error(`${file}: cluster ${JSON.stringify(context.cluster)} has no server`);
  const skipTLSVerify = cluster['insecure-skip-tls-verify'] === true;
  if (server.startsWith('http:') && !skipTLSVerify) throw new Error(`${file}: plain HTTP to ${server} needs insecure-skip-tls-verify: true`);
  const ca = bytes(cluster['certificate-authority'], cluster['certificate-authority-data']);
  const cert = bytes(user['client-certificate'], user['client-certificate-data']);
  const key = bytes(user['client-key'], user['client-key-data']);
  const tokenFile = str(user.tokenFile);
  return new StaticKubeConfig(
    {
      name: String(context.cluster),
      server: server.replace(/\/$/, ''),
      ...(ca ? { ca } : {}),
      skipTLSVerify,
      ...(str(cluster['tls-server-name']) ? { tlsServerName: str(cluster['tls-server-name'])! } : {}),
    },
    {
      ...(cert ? { cert } : {}),
      ...(key ? { key } : {}),
      ...(str(user.token) ? { token: str(user.token)! } : {}),
      ...(tokenFile ? { tokenFile: path.resolve(dir, tokenFile) } : {}),
      ...(str(user.username) ? { username: str(user.username)!, password: str(user.password) ?? '' } : {}),
      ...(str(user.as) ? { impersonate: str(user.as)! } : {}),
    },
  );
}
