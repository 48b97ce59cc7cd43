import type { Logger } from 'pino';
import type { ClusterView, Reconsidered } from '../rules/clusterView.js';
import type { RuleSettings } from '../rules/settings.js';
import { GATEWAY_API_GROUP, type KubeObject } from '../rules/types.js';
import { AuditedObjects } from './auditedObjects.js';
import type { ClusterSource } from './clusterSource.js';
import { GrantRereads, type GrantRereadsOptions } from './grantRereads.js';
import { InMemoryClusterView, viewOptionsFor } from './inMemoryClusterView.js';
import { collectionPath, NAMESPACES, type KubeApi, type DiscoveredResource, type ListOptions } from '../kube/kubeApi.js';
import { ResourceWatch } from '../kube/resourceWatch.js';
import { discoverVersion, watchedKinds } from './watchedKinds.js';

export interface LiveClusterSourceOptions {
  /** The process's one API client (cli/composition.ts). */
  api: KubeApi;
  logger: Logger;
  /** What is watched, and at which version, follows from the rules' settings (watchedKinds.ts). */
  settings: RuleSettings;
  /** Also watch what an audit reads (the policy reports): Gateways and every kind with backendRefs. */
  audit?: boolean;
  onList?: (resource: string, reason: 'initial' | 'relist') => void;
  onWatchError?: (resource: string) => void;
  /** An object of a watched resource was added, changed or removed (policy reports rescan on it). */
  onChange?: (resource: string) => void;
  /** Limits of the ReferenceGrant reads made before a denial. */
  rereads?: GrantRereadsOptions;
  /** How long the API server keeps each watch open before it is resumed (default 5-10 min). */
  watchTimeoutSeconds?: { min: number; spread: number };
  /**
   * With no successful list or watch of a resource for this long, the view is
   * reported not ready (default 5 min): a partitioned or de-authorized pod
   * must not decide on a stale view forever.
   */
  staleAfterMs?: number;
  now?: () => number;
}

export const DEFAULT_STALE_AFTER_MS = 300_000;

const DISCOVERY_RETRY_MAX_MS = 15_000;

/**
 * The cluster view kept by list+watch streams: ReferenceGrants (v1 where
 * served, else v1beta1: both are the same stored objects), GatewayClasses, the
 * parameters kind, the referrer kinds, and the metadata of the Namespaces that
 * carry the enforcement label. Decisions read memory only; the one API call on the
 * admission path is the re-read of grants before a denial.
 */
export class LiveClusterSource implements ClusterSource {
  readonly view: InMemoryClusterView;
  readonly api: KubeApi;
  private watches: ResourceWatch[] = [];
  private referenceGrants: { resource: DiscoveredResource; version: string } | undefined;
  private discovered = false;
  private discoveryError: string | undefined;
  private stopped = false;
  private discoveryTimer: NodeJS.Timeout | undefined;
  private readonly rereads: GrantRereads;
  /** With `audit`: what the policy reports run the rules over, only as much as the rules read. */
  private readonly audited: AuditedObjects | undefined;

  constructor(private readonly options: LiveClusterSourceOptions) {
    this.api = options.api;
    this.rereads = new GrantRereads((namespace) => this.listGrants(namespace), options.rereads);
    this.view = new InMemoryClusterView(viewOptionsFor(options.settings));
    this.audited = options.audit ? new AuditedObjects(options.settings) : undefined;
  }

  /** The watched objects an audit runs the rules over (with `audit`; none without). */
  auditedObjects(): Iterable<KubeObject> {
    return this.audited?.values() ?? [];
  }

  notReadyReason(): string | undefined {
    if (!this.discovered) return `discovering API resources${this.discoveryError ? ` (last error: ${this.discoveryError})` : ''}`;
    const waiting = this.watches.filter((w) => !w.hasSynced).map((w) => w.name);
    if (waiting.length > 0) return `waiting for the first list of ${waiting.join(', ')}`;
    const now = (this.options.now ?? Date.now)();
    const staleAfterMs = this.options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
    const stale = this.watches.filter((w) => now - (w.lastHealthyAt ?? 0) > staleAfterMs).map((w) => w.name);
    return stale.length > 0
      ? `no successful list or watch of ${stale.join(', ')} for more than ${Math.round(staleAfterMs / 1000)} s: the view may be stale`
      : undefined;
  }

  /** Starts discovery and watches in the background; readiness says when they have synced. */
  async start(): Promise<void> {
    this.stopped = false;
    void this.discoverAndWatch(500);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.discoveryTimer) clearTimeout(this.discoveryTimer);
    await Promise.all(this.watches.map((w) => w.stop()));
  }

  /**
   * Decides again against the API server's ReferenceGrants for the namespaces
   * the cached view found ungranted (see GrantRereads.reconsider).
   */
  async reconsider<T>(namespaces: readonly string[], decide: (view: ClusterView) => T, decided: T): Promise<Reconsidered<T>> {
    return this.rereads.reconsider(this.view, this.referenceGrants ? namespaces : [], decide, decided);
  }

  private async listGrants(namespace: string): Promise<{ name: string; spec: unknown }[]> {
    const grants = this.referenceGrants!;
    const list = await this.api.listAll(collectionPath(grants.resource, grants.version, namespace));
    return (list.items as KubeObject[]).map((g) => ({ name: g.metadata?.name ?? '', spec: g.spec }));
  }

  private async discoverAndWatch(retryMs: number): Promise<void> {
    if (this.stopped) return;
    const { logger, settings } = this.options;
    const kinds = watchedKinds(settings, { audit: this.options.audit === true });
    let found: ({ resource: DiscoveredResource; version: string } | undefined)[];
    try {
      found = await Promise.all(kinds.map((kind) => discoverVersion(this.api, kind, settings)));
    } catch (error) {
      this.discoveryError = (error as Error).message;
      logger.warn({ err: error, retryInMs: retryMs }, 'API discovery failed; retrying');
      this.discoveryTimer = setTimeout(() => void this.discoverAndWatch(Math.min(retryMs * 2, DISCOVERY_RETRY_MAX_MS)), retryMs);
      this.discoveryTimer.unref();
      return;
    }
    const toWatch: { resource: DiscoveredResource; version: string; listOptions?: ListOptions }[] = [];
    kinds.forEach((kind, i) => {
      const served = found[i];
      if (served) toWatch.push({ ...served, ...(kind.listOptions ? { listOptions: kind.listOptions } : {}) });
      else if (kind.kind === 'ReferenceGrant' && kind.group === GATEWAY_API_GROUP) logger.warn('ReferenceGrant is not served by this cluster: every cross-namespace backendRef will be denied');
      else if (kind.kind === settings.parametersRef.kind && kind.group === settings.parametersRef.group) logger.warn({ group: kind.group, kind: kind.kind }, 'the parameters kind is not served by this cluster');
    });
    const grants = toWatch.find((w) => w.resource.group === GATEWAY_API_GROUP && w.resource.kind === 'ReferenceGrant');
    if (grants) this.referenceGrants = { resource: grants.resource, version: grants.version };
    this.watches = toWatch.map(({ resource, version, listOptions }) => this.watchOf(resource, version, listOptions));
    this.discovered = true;
    this.discoveryError = undefined;
    logger.info({ resources: this.watches.map((w) => w.name) }, 'watching');
    await Promise.all(this.watches.map((w) => w.start()));
  }

  /** The list+watch of one resource into the view; Namespaces (their labels only) go to the view's own entry. */
  private watchOf(resource: DiscoveredResource, version: string, listOptions?: ListOptions): ResourceWatch {
    const isNamespaces = resource === NAMESPACES;
    const { audited } = this;
    const apply = isNamespaces
      ? { upsert: (object: KubeObject) => this.view.upsertNamespace(object), remove: (object: KubeObject) => this.view.removeNamespace(object) }
      : {
          upsert: (object: KubeObject) => {
            const typed = withKind(object, resource, version);
            this.view.upsert(typed);
            audited?.upsert(typed);
          },
          remove: (object: KubeObject) => {
            const typed = withKind(object, resource, version);
            this.view.remove(typed);
            audited?.remove(typed);
          },
        };
    const watch: ResourceWatch = new ResourceWatch(
      this.api,
      resource,
      version,
      {
        upsert: (object) => {
          apply.upsert(object);
          this.options.onChange?.(watch.name);
        },
        remove: (object) => {
          apply.remove(object);
          this.options.onChange?.(watch.name);
        },
        held: () => (audited ? [...this.view.held(resource.group, resource.kind), ...audited.held(resource.group, resource.kind)] : this.view.held(resource.group, resource.kind)),
        onList: (reason) => this.options.onList?.(watch.name, reason),
        onError: () => this.options.onWatchError?.(watch.name),
      },
      this.options.logger,
      this.options.watchTimeoutSeconds,
      listOptions,
      this.options.now,
    );
    return watch;
  }
}

/** List items come without apiVersion and kind; the view routes objects by them. */
function withKind(object: KubeObject, resource: DiscoveredResource, version: string): KubeObject {
  if (object.apiVersion && object.kind) return object;
  return { ...object, apiVersion: resource.group ? `${resource.group}/${version}` : version, kind: resource.kind };
}
