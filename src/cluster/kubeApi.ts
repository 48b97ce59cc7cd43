import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

export class KubeApiError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

export interface KubeList {
  items: Record<string, unknown>[];
  metadata: { resourceVersion: string };
}

export interface DiscoveredResource {
  group: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  /** Served versions, the group's preferred one first. */
  versions: string[];
}

const LIST_PAGE_SIZE = 500;

/**
 * The few raw reads the webhook makes of the API server (discovery, paginated
 * lists) with the credentials of a KubeConfig. Watches go through
 * @kubernetes/client-node's ListWatch.
 */
export class KubeApi {
  constructor(
    readonly kubeConfig: KubeConfig,
    private readonly timeoutMs = 15_000,
  ) {}

  async getJson(path: string): Promise<Record<string, unknown>> {
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    const url = new URL(cluster.server.replace(/\/$/, '') + path);
    const options: RequestOptions = { method: 'GET', headers: { accept: 'application/json' }, timeout: this.timeoutMs };
    await this.kubeConfig.applyToHTTPSOptions(options);
    const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
    return new Promise((resolve, reject) => {
      const req = send(url, options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status < 200 || status >= 300) {
            let message = text.slice(0, 300);
            try {
              message = (JSON.parse(text) as { message?: string }).message ?? message;
            } catch {
              // not a Status object
            }
            reject(new KubeApiError(status, `GET ${path}: ${status} ${message}`));
            return;
          }
          try {
            resolve(JSON.parse(text) as Record<string, unknown>);
          } catch (error) {
            reject(new Error(`GET ${path}: response is not JSON: ${(error as Error).message}`));
          }
        });
      });
      req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer within ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end();
    });
  }

  /** Every item of a list, page by page, with the resourceVersion of the list to watch from. */
  async listAll(path: string, onPage?: (itemsSoFar: number) => void): Promise<KubeList> {
    const items: Record<string, unknown>[] = [];
    let continueToken = '';
    let resourceVersion = '';
    do {
      const query = new URLSearchParams({ limit: String(LIST_PAGE_SIZE) });
      if (continueToken) query.set('continue', continueToken);
      const page = (await this.getJson(`${path}?${query.toString()}`)) as {
        items?: Record<string, unknown>[];
        metadata?: { resourceVersion?: string; continue?: string };
      };
      items.push(...(page.items ?? []));
      onPage?.(items.length);
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
      continueToken = page.metadata?.continue ?? '';
    } while (continueToken);
    return { items, metadata: { resourceVersion } };
  }

  /** The resource serving `kind` in `group`, or undefined when the API server does not serve it. */
  async discover(group: string, kind: string): Promise<DiscoveredResource | undefined> {
    let groupInfo: { versions?: { version: string }[]; preferredVersion?: { version: string } };
    try {
      groupInfo = (await this.getJson(`/apis/${group}`)) as typeof groupInfo;
    } catch (error) {
      if (error instanceof KubeApiError && error.statusCode === 404) return undefined;
      throw error;
    }
    const preferred = groupInfo.preferredVersion?.version;
    const versions = (groupInfo.versions ?? []).map((v) => v.version).sort((a, b) => (a === preferred ? -1 : b === preferred ? 1 : 0));
    let found: DiscoveredResource | undefined;
    for (const version of versions) {
      const list = (await this.getJson(`/apis/${group}/${version}`)) as { resources?: { name: string; kind: string; namespaced: boolean }[] };
      const resource = list.resources?.find((r) => r.kind === kind && !r.name.includes('/'));
      if (!resource) continue;
      if (!found) found = { group, kind, plural: resource.name, namespaced: resource.namespaced, versions: [] };
      found.versions.push(version);
    }
    return found;
  }
}

export function collectionPath(resource: { group: string; plural: string }, version: string, namespace?: string): string {
  const base = resource.group === '' ? `/api/${version}` : `/apis/${resource.group}/${version}`;
  return namespace ? `${base}/namespaces/${namespace}/${resource.plural}` : `${base}/${resource.plural}`;
}
