import type { Logger } from 'pino';
import type { KubeObject } from '../rules/types.js';
import { collectionPath, KubeApiError, METADATA_WATCH_ACCEPT, type DiscoveredResource, type KubeApi, type ListOptions } from './kubeApi.js';
import type { KubeConnectionConfig } from './kubeCredentials.js';

export interface ResourceWatchHandlers {
  upsert(object: KubeObject): void;
  remove(object: KubeObject): void;
  /**
   * Every object of this resource the consumer holds now. A full list removes
   * those it does not contain: it reconciles the consumer's own state, however
   * that state was reached, not a copy of what this watch once delivered.
   */
  held(): Iterable<ObjectKey>;
  onList?(reason: 'initial' | 'relist'): void;
  onError?(error: unknown): void;
}

const MAX_RESTART_DELAY_MS = 30_000;
const STOP_WAIT_MS = 2_000;
/** The API server ends each watch after 5-10 min (client-go's spread), and the next one resumes from the last resourceVersion. */
export const WATCH_TIMEOUT_S = { min: 300, spread: 300 };

/** An object's identity: namespace ('' when cluster-scoped) and name. */
export interface ObjectKey {
  namespace: string;
  name: string;
}

class WatchExpired extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WatchExpired';
  }
}

/**
 * List+watch of one resource: a paginated list fed to the handlers page by
 * page, then a watch (KubeApi.watch) from the list's resourceVersion,
 * resumed from the last seen resourceVersion (bookmarks included) when the API
 * server ends it. 410 Gone re-lists at once; any other failure re-lists after
 * a capped exponential backoff. Nothing of the objects is kept here: the view
 * holds what it needs, and a copy of every object (as client-node's ListWatch
 * cache keeps) would double the memory of a large cluster.
 */
export class ResourceWatch {
  private lists = 0;
  private stopped = false;
  private synced = false;
  private resourceVersion = '';
  /** Bumped by every list, watch request and stop: callbacks of an older one are ignored. */
  private generation = 0;
  private restartDelayMs = 500;
  private restartTimer: NodeJS.Timeout | undefined;
  private controller: { abort(): void } | undefined;
  private pendingWatch: Promise<unknown> | undefined;
  private readonly path: string;
  /** When the API server last answered this resource's list or watch (a list, a watch opened, an event, a watch it closed). */
  private healthyAt: number | undefined;

  constructor(
    private readonly api: KubeApi,
    readonly resource: DiscoveredResource,
    readonly version: string,
    private readonly handlers: ResourceWatchHandlers,
    private readonly logger: Logger,
    private readonly watchTimeoutSeconds = WATCH_TIMEOUT_S,
    private readonly listOptions: ListOptions = {},
    private readonly now: () => number = Date.now,
  ) {
    this.path = collectionPath(resource, version);
  }

  get name(): string {
    return `${this.resource.plural}.${this.resource.group || 'core'}/${this.version}`;
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  /**
   * When the API server last answered a list or watch of this resource; a
   * healthy watch renews it at least every few minutes (the server's watch
   * timeout, and the 30 s silence after which KubeApi.watch ends a stream).
   */
  get lastHealthyAt(): number | undefined {
    return this.healthyAt;
  }

  /** Resolves after the first list (or its failure, which is retried in the background). */
  async start(): Promise<void> {
    this.stopped = false;
    await this.listThenWatch();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.generation++;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.controller?.abort();
    // A watch can be aborted only once the API server has answered it; the
    // callbacks above already ignore it, and it is aborted when it answers. Bounded: shutdown must not wait on an API
    // server that does not answer.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.pendingWatch,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, STOP_WAIT_MS);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
  }

  private async listThenWatch(): Promise<void> {
    const generation = ++this.generation;
    const reason = this.lists === 0 ? 'initial' : 'relist';
    const seen = new ObjectKeys();
    let resourceVersion: string;
    try {
      resourceVersion = await this.api.listPages(
        this.path,
        (items) => {
          if (generation !== this.generation) return;
          for (const item of items) {
            const object = item as KubeObject;
            seen.add(object);
            this.handlers.upsert(object);
          }
        },
        this.listOptions,
      );
    } catch (error) {
      if (generation === this.generation) this.failed(error);
      return;
    }
    if (generation !== this.generation) return;
    // Collected first: removing while the consumer's maps are iterated would skip entries.
    const gone = [...this.handlers.held()].filter((key) => !seen.has(key));
    for (const { namespace, name } of gone) this.handlers.remove({ metadata: { name, ...(namespace ? { namespace } : {}) } });
    this.resourceVersion = resourceVersion;
    this.lists++;
    this.synced = true;
    this.healthyAt = this.now();
    this.handlers.onList?.(reason);
    if (reason === 'relist') this.logger.info({ resource: this.name, items: seen.size }, 're-listed after the watch expired or failed');
    this.watch();
  }

  private watch(): void {
    const generation = ++this.generation;
    const { min, spread } = this.watchTimeoutSeconds;
    const timeoutSeconds = min + Math.floor(Math.random() * spread);
    const accept = this.listOptions.metadataOnly ? METADATA_WATCH_ACCEPT : 'application/json';
    let ended: Error | undefined;
    let connected = false;
    const { labelSelector } = this.listOptions;
    const query = new URLSearchParams({ watch: 'true', resourceVersion: this.resourceVersion, allowWatchBookmarks: 'true', timeoutSeconds: String(timeoutSeconds) });
    if (labelSelector) query.set('labelSelector', labelSelector);
    const pending = this.api
      .watch(
        `${this.path}?${query.toString()}`,
        accept,
        (type: string, object: KubeObject) => {
          if (generation !== this.generation) return;
          ended ??= this.event(type, object);
        },
        (error: unknown) => {
          if (generation !== this.generation) return;
          // KubeApi.watch ends a stream silent for 30 s; once connected, that is a
          // quiet resource (or a dead connection): resume from the last
          // resourceVersion. Before, the API server did not answer: a failure.
          if (!ended && connected && (error as Error | null)?.name === 'TimeoutError') return this.watchEnded(null);
          this.watchEnded(ended ?? (error as Error | null));
        },
      )
      .then(
        (controller) => {
          if (generation !== this.generation) return controller.abort();
          this.controller = controller;
          connected = true;
          this.healthyAt = this.now();
          // Connected: the backoff starts over. (Reset on a good list alone,
          // a watch refused right after every list would re-list in a loop.)
          this.restartDelayMs = 500;
        },
        (error: unknown) => {
          if (generation === this.generation) this.watchEnded(error as Error);
        },
      );
    this.pendingWatch = pending;
  }

  /** Applies one watch event; an ERROR event ends the watch with the error it returns. */
  private event(type: string, object: KubeObject): Error | undefined {
    if (type === 'ERROR') {
      const status = object as { code?: number; message?: string };
      const message = `watch of ${this.name} answered ${status.code ?? '?'}: ${status.message ?? 'no message'}`;
      return status.code === 410 ? new WatchExpired(message) : new KubeApiError(status.code ?? 500, message);
    }
    this.healthyAt = this.now();
    const resourceVersion = object.metadata?.resourceVersion;
    if (typeof resourceVersion === 'string' && resourceVersion) this.resourceVersion = resourceVersion;
    if (type === 'ADDED' || type === 'MODIFIED') this.handlers.upsert(object);
    else if (type === 'DELETED') this.handlers.remove(object);
    return undefined;
  }

  private watchEnded(error: Error | null): void {
    this.controller = undefined;
    if (this.stopped) return;
    if (error === null) {
      // The API server closed the watch at its timeout: resume where it ended.
      this.healthyAt = this.now();
      this.watch();
    } else if (error instanceof WatchExpired || (error as { statusCode?: number }).statusCode === 410) {
      // The resourceVersion is older than etcd keeps: only a fresh list is complete.
      this.logger.info({ resource: this.name, resourceVersion: this.resourceVersion }, 'watch expired (410 Gone): re-listing');
      void this.listThenWatch();
    } else {
      this.failed(error);
    }
  }

  private failed(error: unknown): void {
    this.handlers.onError?.(error);
    if (this.stopped) return;
    this.generation++;
    const delay = this.restartDelayMs;
    this.restartDelayMs = Math.min(this.restartDelayMs * 2, MAX_RESTART_DELAY_MS);
    this.logger.warn({ resource: this.name, err: error, retryInMs: delay }, 'watch failed; the last synced state keeps serving');
    // A re-list, not a resumed watch: nothing that changed meanwhile is missed.
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopped) return;
      void this.listThenWatch();
    }, delay);
    this.restartTimer.unref();
  }
}

/** Namespace → names of one list, holding the objects' own name strings (no "namespace/name" copy per object). */
class ObjectKeys {
  private readonly byNamespace = new Map<string, Set<string>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(object: KubeObject): void {
    const namespace = object.metadata?.namespace ?? '';
    let names = this.byNamespace.get(namespace);
    if (!names) {
      names = new Set();
      this.byNamespace.set(namespace, names);
    }
    const before = names.size;
    names.add(object.metadata?.name ?? '');
    this.count += names.size - before;
  }

  has(key: ObjectKey): boolean {
    return this.byNamespace.get(key.namespace)?.has(key.name) ?? false;
  }
}
