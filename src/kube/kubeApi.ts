import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { KubeConnectionConfig } from './kubeCredentials.js';
import { ListStream } from './listStream.js';

export class KubeApiError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

export interface KubeResponse {
  status: number;
  /** Parsed JSON, or the text when the body is not JSON. */
  body: unknown;
  text: string;
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
/** Items handed to a list's consumer at once, at most this many or this many bytes of their text. */
const LIST_BATCH_ITEMS = 100;
const LIST_BATCH_BYTES = 8 * 1024 * 1024;
/** What is kept of an error answer's text, for its message. */
const ERROR_TEXT_BYTES = 64 * 1024;
/** A watch silent this long is ended (the API server sends a bookmark at least every minute when asked; client-node's Watch used 30 s). */
const WATCH_SILENCE_MS = 30_000;

/** Core v1 Namespaces: served by every API server, no discovery needed. */
export const NAMESPACES: DiscoveredResource = { group: '', kind: 'Namespace', plural: 'namespaces', namespaced: false, versions: ['v1'] };

/** How a list (and the watch that follows it) is narrowed. */
export interface ListOptions {
  labelSelector?: string;
  /** Metadata only (PartialObjectMetadata), as client-go's metadata informers ask: no spec or status. */
  metadataOnly?: boolean;
}

// The media types client-go's metadata client sends, JSON only; plain JSON last
// so an API server that cannot convert still answers (with whole objects).
export const METADATA_LIST_ACCEPT = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';
export const METADATA_WATCH_ACCEPT = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json';

/**
 * The few raw reads the webhook makes of the API server (discovery, paginated
 * lists, watches) with the credentials of a KubeConfig, on node:http(s).
 */
export class KubeApi {
  constructor(
    readonly kubeConfig: KubeConnectionConfig,
    private readonly timeoutMs = 15_000,
  ) {}

  /** One request with the kubeconfig's credentials; the body parsed when it is JSON. */
  async request(method: string, path: string, body?: unknown, contentType = 'application/json', accept = 'application/json'): Promise<KubeResponse> {
    const res = await this.open(method, path, body, contentType, accept);
    const text = await readText(res);
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: res.statusCode ?? 0, body: parsed, text };
  }

  /**
   * A watch (`path` with its query, `watch=true` among it): resolves once
   * the API server answered 200, with `abort` to end it; rejects with a
   * KubeApiError on any other status. Each event line goes to `onEvent` as
   * it arrives (a line that is not JSON is skipped); `onEnd` is told once:
   * null when the server ended the stream, else the error, one named
   * TimeoutError when the stream was silent for `silenceMs`. Read on the
   * same node:https request as the lists: an event costs a line split and a
   * JSON.parse (client-node's Watch went through undici's fetch, a web
   * stream, a Node stream and readline, ~0.3 ms of CPU a policy write at the
   * API server's pace: bench/README.md, issue 25).
   */
  async watch(
    path: string,
    accept: string,
    onEvent: (type: string, object: Record<string, unknown>) => void,
    onEnd: (error: Error | null) => void,
    silenceMs = WATCH_SILENCE_MS,
  ): Promise<{ abort(): void }> {
    const res = await this.open('GET', path, undefined, 'application/json', accept, silenceMs);
    const status = res.statusCode ?? 0;
    if (status !== 200) {
      const text = await readText(res, ERROR_TEXT_BYTES);
      res.destroy();
      let message = text.slice(0, 300);
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? message;
      } catch {
        // not JSON: the text is the message
      }
      throw new KubeApiError(status, `watch ${path}: ${status} ${message}`);
    }
    let ended = false;
    const end = (error: Error | null): void => {
      if (ended) return;
      ended = true;
      res.destroy();
      onEnd(error);
    };
    let partial = '';
    res.on('data', (chunk: string) => {
      let text = partial + chunk;
      let newline = text.indexOf('\n');
      while (newline >= 0 && !ended) {
        const line = text.slice(0, newline);
        text = text.slice(newline + 1);
        newline = text.indexOf('\n');
        if (line.trim() === '') continue;
        let event: { type?: unknown; object?: unknown };
        try {
          event = JSON.parse(line) as typeof event;
        } catch {
          continue;
        }
        if (typeof event?.type === 'string' && typeof event.object === 'object' && event.object !== null) onEvent(event.type, event.object as Record<string, unknown>);
      }
      partial = text;
    });
    // The request's idle timeout, from connect to the last byte, is the silence limit.
    res.socket.setTimeout(silenceMs);
    res.socket.once('timeout', () => {
      const error = new Error(`watch ${path}: silent for ${silenceMs} ms`);
      error.name = 'TimeoutError';
      end(error);
    });
    res.on('error', (error: Error) => end(error));
    res.on('end', () => end(null));
    res.on('close', () => end(null));
    return { abort: () => end(null) };
  }

  /** Sends a request and resolves with the response as soon as its headers are in; the body is the caller's to read. */
  private async open(method: string, path: string, body: unknown, contentType: string, accept: string, timeoutMs = this.timeoutMs): Promise<IncomingMessage> {
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    const url = new URL(cluster.server.replace(/\/$/, '') + path);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const options: RequestOptions = { method, headers: { accept }, timeout: timeoutMs };
    await this.kubeConfig.applyToHTTPSOptions(options);
    if (payload !== undefined) {
      options.headers = { ...(options.headers as Record<string, string>), 'content-type': contentType, 'content-length': String(Buffer.byteLength(payload)) };
    }
    const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
    return new Promise((resolve, reject) => {
      const req = send(url, options, (res) => {
        // Decoded chunk by chunk: a multi-byte character split across chunks stays whole.
        res.setEncoding('utf8');
        resolve(res);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /**
   * One page of a list, read as it arrives (ListStream): items go to `onItems`
   * in batches of at most LIST_BATCH_ITEMS or LIST_BATCH_BYTES, so neither the
   * page's text nor its parsed items are ever held whole, whatever the size
   * of the objects. Returns the list's metadata.
   */
  private async listPage(path: string, accept: string, onItems: (items: Record<string, unknown>[]) => void): Promise<{ resourceVersion?: string; continue?: string }> {
    const res = await this.open('GET', path, undefined, 'application/json', accept);
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      const text = await readText(res, ERROR_TEXT_BYTES);
      let message = text.slice(0, 300);
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? message;
      } catch {
        // not JSON: the text is the message
      }
      throw new KubeApiError(status, `GET ${path}: ${status} ${message}`);
    }
    let batch: Record<string, unknown>[] = [];
    let batchBytes = 0;
    const flush = (): void => {
      if (batch.length === 0) return;
      const items = batch;
      batch = [];
      batchBytes = 0;
      onItems(items);
    };
    const stream = new ListStream((item, bytes) => {
      batch.push(item);
      batchBytes += bytes;
      if (batch.length >= LIST_BATCH_ITEMS || batchBytes >= LIST_BATCH_BYTES) flush();
    });
    await new Promise<void>((resolve, reject) => {
      res.on('data', (chunk: string) => {
        try {
          stream.write(chunk);
        } catch (error) {
          res.destroy();
          reject(new Error(`GET ${path}: ${(error as Error).message}`));
        }
      });
      res.on('error', reject);
      res.on('end', resolve);
    });
    let list;
    try {
      list = stream.end();
    } catch (error) {
      throw new Error(`GET ${path}: ${(error as Error).message}`);
    }
    flush();
    return (list.metadata ?? {}) as { resourceVersion?: string; continue?: string };
  }

  async getJson(path: string, accept?: string): Promise<Record<string, unknown>> {
    const res = await this.request('GET', path, undefined, undefined, accept);
    if (res.status < 200 || res.status >= 300) {
      const message = (res.body as { message?: string } | null)?.message ?? res.text.slice(0, 300);
      throw new KubeApiError(res.status, `GET ${path}: ${res.status} ${message}`);
    }
    if (typeof res.body !== 'object' || res.body === null) throw new Error(`GET ${path}: response is not JSON`);
    return res.body as Record<string, unknown>;
  }

  /**
   * A list read page by page, each page streamed to `onPage` in batches and
   * then dropped, so a list of 100,000 objects, or of 70 objects of 1.4 MB,
   * never sits in memory whole. Returns the list's resourceVersion, to watch
   * from.
   */
  async listPages(path: string, onPage: (items: Record<string, unknown>[]) => void, options: ListOptions = {}): Promise<string> {
    let continueToken = '';
    let resourceVersion = '';
    do {
      const query = new URLSearchParams({ limit: String(LIST_PAGE_SIZE) });
      if (options.labelSelector) query.set('labelSelector', options.labelSelector);
      if (continueToken) query.set('continue', continueToken);
      const metadata = await this.listPage(`${path}?${query.toString()}`, options.metadataOnly ? METADATA_LIST_ACCEPT : 'application/json', onPage);
      resourceVersion = metadata.resourceVersion ?? resourceVersion;
      continueToken = metadata.continue ?? '';
    } while (continueToken);
    return resourceVersion;
  }

  /** Every item of a list, with the resourceVersion of the list. */
  async listAll(path: string, onProgress?: (itemsSoFar: number) => void, options: ListOptions = {}): Promise<KubeList> {
    const items: Record<string, unknown>[] = [];
    const resourceVersion = await this.listPages(
      path,
      (page) => {
        for (const item of page) items.push(item);
        onProgress?.(items.length);
      },
      options,
    );
    return { items, metadata: { resourceVersion } };
  }

  /** The resource serving `kind` in `group`, or undefined when the API server does not serve it. */
  async discover(group: string, kind: string): Promise<DiscoveredResource | undefined> {
    let groupInfo: { versions?: { version: string }[]; preferredVersion?: { version: string } };
    try {
      groupInfo = (await this.getJson(apiPath('apis', group))) as typeof groupInfo;
    } catch (error) {
      if (error instanceof KubeApiError && error.statusCode === 404) return undefined;
      throw error;
    }
    const preferred = groupInfo.preferredVersion?.version;
    const versions = (groupInfo.versions ?? []).map((v) => v.version).sort((a, b) => (a === preferred ? -1 : b === preferred ? 1 : 0));
    let found: DiscoveredResource | undefined;
    for (const version of versions) {
      const list = (await this.getJson(apiPath('apis', group, version))) as { resources?: { name: string; kind: string; namespaced: boolean }[] };
      const resource = list.resources?.find((r) => r.kind === kind && !r.name.includes('/'));
      if (!resource) continue;
      if (!found) found = { group, kind, plural: resource.name, namespaced: resource.namespaced, versions: [] };
      found.versions.push(version);
    }
    return found;
  }
}

/** An API path from its segments, each percent-encoded: a segment from a request can never add one or a query. */
export function apiPath(...segments: string[]): string {
  return segments.map((s) => `/${encodeURIComponent(s)}`).join('');
}

export function collectionPath(resource: { group: string; plural: string }, version: string, namespace?: string): string {
  const base = resource.group === '' ? ['api', version] : ['apis', resource.group, version];
  return namespace ? apiPath(...base, 'namespaces', namespace, resource.plural) : apiPath(...base, resource.plural);
}

/** The body as text, up to `limit` characters (the rest is read and dropped). */
function readText(res: IncomingMessage, limit = Infinity): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    res.on('data', (chunk: string) => {
      if (text.length < limit) text += chunk.length + text.length > limit ? chunk.slice(0, limit - text.length) : chunk;
    });
    res.on('error', reject);
    res.on('end', () => resolve(text));
  });
}
