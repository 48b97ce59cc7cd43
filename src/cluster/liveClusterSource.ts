import type { Logger } from 'pino';
import { ENFORCEMENT_LABEL } from '../rules/enforcement.js';
import type { ClusterView, Reconsidered } from '../rules/clusterView.js';
import type { BackendRefExtractor } from '../rules/crossNamespaceBackendRefs.js';
import { GATEWAY_API_GROUP, type KubeObject } from '../rules/types.js';
import type { ClusterSource } from './clusterSource.js';
import { GrantRereads, type GrantRereadsOptions } from './grantRereads.js';
import { InMemoryClusterView } from './inMemoryClusterView.js';
import { collectionPath, KubeApi, NAMESPACES, type DiscoveredResource, type ListOptions } from './kubeApi.js';
import type { KubeConnectionConfig } from './kubeCredentials.js';
import { ResourceWatch, type ResourceWatchHandlers } from './resourceWatch.js';

export interface LiveClusterSourceOptions {
  kubeConfig: KubeConnectionConfig;
  logger: Logger;
  /** The parameters kind the mutation points at; watched so the mutation can warn when it is missing. */
  parametersKind: { group: string; kind: string };
  /** Kinds with backendRefs that need grants; watched so a grant's dependents are known. */
  referrerKinds?: readonly { group: string; kind: string }[];
  backendRefs?: BackendRefExtractor;
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

function preferredVersion(resource: DiscoveredResource, order: readonly string[]): string {
  return order.find((v) => resource.versions.includes(v)) ?? resource.versions[0]!;
}

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

  constructor(private readonly options: LiveClusterSourceOptions) {
    this.api = new KubeApi(options.kubeConfig);
    this.rereads = new GrantRereads((namespace) => this.listGrants(namespace), options.rereads);
    this.view = new InMemoryClusterView({
      trackedKinds: [options.parametersKind],
      ...(options.backendRefs ? { backendRefs: options.backendRefs } : {}),
    });
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
    const { logger, parametersKind } = this.options;
    const referrerKinds = this.options.referrerKinds ?? [];
    let found: (DiscoveredResource | undefined)[];
    try {
      found = await Promise.all([
        this.api.discover(GATEWAY_API_GROUP, 'ReferenceGrant'),
        this.api.discover(GATEWAY_API_GROUP, 'GatewayClass'),
        this.api.discover(parametersKind.group, parametersKind.kind),
        ...referrerKinds.map((k) => this.api.discover(k.group, k.kind)),
      ]);
    } catch (error) {
      this.discoveryError = (error as Error).message;
      logger.warn({ err: error, retryInMs: retryMs }, 'API discovery failed; retrying');
      this.discoveryTimer = setTimeout(() => void this.discoverAndWatch(Math.min(retryMs * 2, DISCOVERY_RETRY_MAX_MS)), retryMs);
      this.discoveryTimer.unref();
      return;
    }
    const [referenceGrant, gatewayClass, parameters, ...referrers] = found;
    if (!referenceGrant) {
      logger.warn('ReferenceGrant is not served by this cluster: every cross-namespace backendRef will be denied');
    } else {
      this.referenceGrants = { resource: referenceGrant, version: preferredVersion(referenceGrant, ['v1', 'v1beta1']) };
    }
    if (!parameters) logger.warn({ ...parametersKind }, 'the parameters kind is not served by this cluster');
    const toWatch: [DiscoveredResource, string][] = [];
    if (this.referenceGrants) toWatch.push([this.referenceGrants.resource, this.referenceGrants.version]);
    if (gatewayClass) toWatch.push([gatewayClass, preferredVersion(gatewayClass, ['v1', 'v1beta1'])]);
    if (parameters) toWatch.push([parameters, parameters.versions[0]!]);
    for (const referrer of referrers) if (referrer) toWatch.push([referrer, referrer.versions[0]!]);
    const watchOf = (resource: DiscoveredResource, version: string, apply: Pick<ResourceWatchHandlers, 'upsert' | 'remove' | 'held'>, listOptions?: ListOptions) => {
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
          held: apply.held,
          onList: (reason) => this.options.onList?.(watch.name, reason),
          onError: () => this.options.onWatchError?.(watch.name),
        },
        logger,
        this.options.watchTimeoutSeconds,
        listOptions,
        this.options.now,
      );
      return watch;
    };
    this.watches = toWatch.map(([resource, version]) =>
      watchOf(resource, version, {
        upsert: (object) => this.view.upsert(withKind(object, resource, version)),
        remove: (object) => this.view.remove(withKind(object, resource, version)),
        held: () => this.view.held(resource.group, resource.kind),
      }),
    );
    // Only the Namespaces with the label, and only their metadata: a label
    // removed is a DELETED event of this selector's watch.
    this.watches.push(
      watchOf(
        NAMESPACES,
        'v1',
        {
          upsert: (object) => this.view.upsertNamespace(object),
          remove: (object) => this.view.removeNamespace(object),
          held: () => this.view.held(NAMESPACES.group, NAMESPACES.kind),
        },
        { labelSelector: ENFORCEMENT_LABEL, metadataOnly: true },
      ),
    );
    this.discovered = true;
    this.discoveryError = undefined;
    logger.info({ resources: this.watches.map((w) => w.name) }, 'watching');
    await Promise.all(this.watches.map((w) => w.start()));
  }
}

/** List items come without apiVersion and kind; the view routes objects by them. */
function withKind(object: KubeObject, resource: DiscoveredResource, version: string): KubeObject {
  if (object.apiVersion && object.kind) return object;
  return { ...object, apiVersion: resource.group ? `${resource.group}/${version}` : version, kind: resource.kind };
}
