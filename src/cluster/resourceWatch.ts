import { ListWatch, Watch, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { KubeObject } from '../rules/types.js';
import { collectionPath, type DiscoveredResource, type KubeApi } from './kubeApi.js';

export interface ResourceWatchHandlers {
  upsert(object: KubeObject): void;
  remove(object: KubeObject): void;
  onList?(reason: 'initial' | 'relist'): void;
  onError?(error: unknown): void;
}

const MAX_RESTART_DELAY_MS = 30_000;
const STOP_WAIT_MS = 2_000;

/**
 * List+watch of one resource with @kubernetes/client-node's ListWatch, which
 * re-lists by itself when a watch expires (410 Gone). On any other failure
 * ListWatch stops, so this restarts it with a capped exponential backoff.
 */
export class ResourceWatch {
  private listWatch: ListWatch<KubernetesObject> | undefined;
  private lists = 0;
  private stopped = false;
  private restartDelayMs = 500;
  private restartTimer: NodeJS.Timeout | undefined;
  private synced = false;
  private starting: Promise<void> | undefined;

  constructor(
    private readonly api: KubeApi,
    readonly resource: DiscoveredResource,
    readonly version: string,
    private readonly handlers: ResourceWatchHandlers,
    private readonly logger: Logger,
  ) {}

  get name(): string {
    return `${this.resource.plural}.${this.resource.group || 'core'}/${this.version}`;
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  async start(): Promise<void> {
    this.stopped = false;
    const path = collectionPath(this.resource, this.version);
    const list = async () => {
      const result = await this.api.listAll(path);
      const reason = this.lists === 0 ? 'initial' : 'relist';
      this.lists++;
      this.restartDelayMs = 500;
      // ListWatch adds the listed items (and drops vanished ones) right after
      // this returns, in the same turn; setImmediate runs once it has.
      setImmediate(() => {
        this.synced = true;
        this.handlers.onList?.(reason);
      });
      if (reason === 'relist') this.logger.info({ resource: this.name, items: result.items.length }, 're-listed after the watch expired or failed');
      // ListWatch keeps every listed object; managedFields and the
      // last-applied annotation are most of an object's size and unused here.
      return { items: result.items.map(slim), metadata: result.metadata } as unknown as { items: KubernetesObject[]; metadata: { resourceVersion: string } };
    };
    const listWatch = new ListWatch<KubernetesObject>(path, new Watch(this.api.kubeConfig), list as never, false);
    // A stopped watch may still deliver events from a request that was in
    // flight when it stopped; they are dropped.
    listWatch.on('add', (object) => this.stopped || this.handlers.upsert(object as KubeObject));
    listWatch.on('update', (object) => this.stopped || this.handlers.upsert(object as KubeObject));
    listWatch.on('delete', (object) => this.stopped || this.handlers.remove(object as KubeObject));
    listWatch.on('error', (error) => this.failed(error));
    this.listWatch = listWatch;
    this.starting = listWatch.start();
    await this.starting;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    await this.listWatch?.stop();
    // ListWatch can abort its watch request only once the request has
    // answered; stop again after that, so no connection is left open.
    // Bounded: shutdown must not wait on an API server that does not answer.
    let timer: NodeJS.Timeout | undefined;
    const answered = await Promise.race([
      (this.starting ?? Promise.resolve()).then(
        () => true,
        () => true,
      ),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), STOP_WAIT_MS);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
    if (answered) await this.listWatch?.stop();
  }

  private failed(error: unknown): void {
    this.handlers.onError?.(error);
    if (this.stopped) return;
    const delay = this.restartDelayMs;
    this.restartDelayMs = Math.min(this.restartDelayMs * 2, MAX_RESTART_DELAY_MS);
    this.logger.warn({ resource: this.name, err: error, retryInMs: delay }, 'watch failed; the last synced state keeps serving');
    // A fresh ListWatch re-lists, so nothing that changed meanwhile is missed.
    void this.listWatch?.stop();
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.stopped) void this.start();
    }, delay);
    this.restartTimer.unref();
  }
}

/** An object without what the view never reads, so a large cluster costs less memory. */
export function slim(object: Record<string, unknown>): Record<string, unknown> {
  const metadata = (object.metadata ?? {}) as Record<string, unknown>;
  const { managedFields: _managed, annotations: _annotations, ...keep } = metadata;
  return { ...object, metadata: keep };
}
