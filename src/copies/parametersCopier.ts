import type { Logger } from 'pino';
import { apiPath, collectionPath, type DiscoveredResource, type KubeApi } from '../kube/kubeApi.js';
import { ResourceWatch, type ObjectKey } from '../kube/resourceWatch.js';
import { LeaseElector } from '../kube/leaseElector.js';
import type { ClusterView } from '../rules/clusterView.js';
import { copyObject, namespacesNeedingCopies, plannedCopyActions, type CopyAction, type ParametersSource } from '../rules/parametersCopies.js';
import type { RuleSettings } from '../rules/settings.js';
import { GATEWAY_API_GROUP, type KubeObject } from '../rules/types.js';

export const COPIES_LEASE_NAME = 'kgateway-admission-parameter-copies';

const DEBOUNCE_MS = 10;
const RESYNC_MS = 30_000;
const SYNC_POLL_MS = 200;
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 30_000;
const DISCOVERY_RETRY_MS = 2_000;

export interface ParametersCopierOptions {
  /** The process's one API client. */
  api: KubeApi;
  logger: Logger;
  /** With copyParameters set. */
  settings: RuleSettings & { copyParameters: { sourceNamespace: string } };
  /** The live view: which GatewayClasses are agentgateway's. */
  view: ClusterView;
  /** Where the Lease lives (the webhook's namespace). */
  leaseNamespace: string;
  leaseDurationSeconds?: number;
}

export interface RunningParametersCopier {
  /** Something the decisions read changed (a GatewayClass): reconcile soon. */
  changed(): void;
  stop(): Promise<void>;
}

function key(object: KubeObject): string {
  return `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
}

/**
 * mutation.copyParameters: every replica watches Gateways and the objects of
 * the parameters kind with the ref's name; the one holding the Lease makes the
 * cluster match plannedCopyActions (src/rules/parametersCopies.ts): a copy of
 * the source in each namespace with a matching Gateway, kept equal to the
 * source, removed with the last such Gateway. It writes only objects carrying
 * its labels, each write conditional on the resourceVersion it read.
 */
export function startParametersCopier(options: ParametersCopierOptions): RunningParametersCopier {
  const { logger, settings } = options;
  const { api } = options;
  const { group, kind, name } = settings.parametersRef;
  const sourceRef = { namespace: settings.copyParameters.sourceNamespace, name };
  const gateways = new Map<string, KubeObject>();
  const parameters = new Map<string, KubeObject>();
  let watches: ResourceWatch[] = [];
  let parametersResource: { resource: DiscoveredResource; version: string } | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let again = false;
  let retryMs = RETRY_MIN_MS;

  const elector = new LeaseElector({
    api,
    logger,
    namespace: options.leaseNamespace,
    name: COPIES_LEASE_NAME,
    ...(options.leaseDurationSeconds ? { leaseDurationSeconds: options.leaseDurationSeconds } : {}),
    onStartedLeading: () => schedule(0),
  });

  function schedule(delayMs = DEBOUNCE_MS): void {
    if (stopped) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void reconcile(), delayMs);
    timer.unref();
  }

  async function reconcile(): Promise<void> {
    timer = undefined;
    if (running) {
      again = true;
      return;
    }
    // Leading again runs a reconcile at once (onStartedLeading).
    if (!elector.isLeader()) {
      schedule(RESYNC_MS);
      return;
    }
    if (!parametersResource || watches.length === 0 || watches.some((w) => !w.hasSynced)) {
      schedule(SYNC_POLL_MS);
      return;
    }
    running = true;
    let failed = false;
    try {
      const sourceObject = parameters.get(`${sourceRef.namespace}/${sourceRef.name}`);
      const source: ParametersSource | undefined = sourceObject ? { ...sourceRef, spec: sourceObject.spec } : undefined;
      const actions = plannedCopyActions({
        source,
        sourceRef,
        needed: namespacesNeedingCopies(gateways.values(), settings, options.view, sourceRef.namespace),
        existing: parameters.values(),
      });
      for (const action of actions) {
        if (stopped || !elector.isLeader()) break;
        if (!(await apply(action, source!))) failed = true;
      }
      if (!source) logger.debug({ source: `${sourceRef.namespace}/${name}`, kind }, 'parameter copies: no source object; copies left as they are');
    } catch (error) {
      failed = true;
      logger.warn({ err: error }, 'parameter copies: reconcile failed');
    } finally {
      running = false;
    }
    if (failed) {
      schedule(retryMs);
      retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
    } else {
      retryMs = RETRY_MIN_MS;
      schedule(again ? DEBOUNCE_MS : RESYNC_MS);
    }
    again = false;
  }

  /** One write; false when it failed (a 409 is someone else's write first: the watch brings it, and the next plan decides again). */
  async function apply(action: CopyAction, source: ParametersSource): Promise<boolean> {
    const { resource, version } = parametersResource!;
    const where = { namespace: action.namespace, kind, name, action: action.action };
    if (action.action === 'foreign') {
      logger.debug(where, 'parameter copies: an object of that name not made by us; left alone');
      return true;
    }
    const collection = collectionPath(resource, version, action.namespace);
    const objectPath = `${collection}${apiPath(name)}`;
    const apiVersion = `${group}/${version}`;
    let res;
    if (action.action === 'create') {
      res = await api.request('POST', collection, copyObject(source, { apiVersion, kind }, action.namespace));
    } else if (action.action === 'update') {
      res = await api.request('PUT', objectPath, copyObject(source, { apiVersion, kind }, action.namespace, action.resourceVersion));
    } else {
      res = await api.request('DELETE', objectPath, { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { resourceVersion: action.resourceVersion } });
    }
    const ok = res.status >= 200 && res.status < 300;
    const benign = res.status === 409 || (action.action === 'delete' && res.status === 404);
    if (ok) logger.info(where, `parameter copies: ${action.action}d the copy of ${sourceRef.namespace}/${name}`);
    else if (benign) logger.debug({ ...where, status: res.status }, 'parameter copies: changed meanwhile; deciding again');
    else logger.warn({ ...where, status: res.status, message: res.text.slice(0, 300) }, 'parameter copies: write failed');
    return ok || benign;
  }

  function mapHandlers(map: Map<string, KubeObject>, accept: (object: KubeObject) => boolean) {
    return {
      upsert: (object: KubeObject) => {
        if (accept(object)) map.set(key(object), object);
        else map.delete(key(object));
        schedule();
      },
      remove: (object: KubeObject) => {
        map.delete(key(object));
        schedule();
      },
      held: (): Iterable<ObjectKey> => [...map.values()].map((o) => ({ namespace: o.metadata?.namespace ?? '', name: o.metadata?.name ?? '' })),
    };
  }

  async function discoverAndWatch(): Promise<void> {
    if (stopped) return;
    let gateway: DiscoveredResource | undefined;
    let params: DiscoveredResource | undefined;
    try {
      [gateway, params] = await Promise.all([api.discover(GATEWAY_API_GROUP, 'Gateway'), api.discover(group, kind)]);
    } catch (error) {
      logger.warn({ err: error }, 'parameter copies: API discovery failed; retrying');
    }
    if (!gateway || !params) {
      if (gateway && !params) logger.warn({ group, kind }, 'parameter copies: the parameters kind is not served; retrying');
      setTimeout(() => void discoverAndWatch(), DISCOVERY_RETRY_MS).unref();
      return;
    }
    parametersResource = { resource: params, version: params.versions[0]! };
    const gatewayVersion = gateway.versions.includes('v1') ? 'v1' : gateway.versions[0]!;
    watches = [
      new ResourceWatch(api, gateway, gatewayVersion, mapHandlers(gateways, () => true), logger),
      new ResourceWatch(api, params, parametersResource.version, mapHandlers(parameters, (o) => o.metadata?.name === name), logger),
    ];
    await Promise.all(watches.map((w) => w.start()));
    schedule();
  }

  elector.start();
  void discoverAndWatch();
  logger.info({ source: `${sourceRef.namespace}/${name}`, kind: `${kind}.${group}` }, 'parameter copies: on');
  return {
    changed: () => schedule(),
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await Promise.all(watches.map((w) => w.stop()));
      await elector.stop();
    },
  };
}
