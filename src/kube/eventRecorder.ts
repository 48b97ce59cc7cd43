import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { EventObject, WarningEvent } from '../rules/warningEvents.js';
import { apiPath, collectionPath, KubeApiError, type DiscoveredResource, type KubeApi } from './kubeApi.js';

export type EventResult = 'recorded' | 'rate-limited' | 'dropped' | 'failed';

export interface EventRecorderOptions {
  api: KubeApi;
  logger: Logger;
  /** events.k8s.io reportingInstance: the pod's name. */
  reportingInstance?: string;
  /** One event per object and reason in this long (default 5 min), like client-go's EventCorrelator spam filter. */
  perObjectIntervalMs?: number;
  /** Wait before recording, so the write has been stored (or refused) by then (default 1 s). */
  delayMs?: number;
  /** At most this many events at once, refilled at `perSecond` (default 25 and 1/s, client-go's burst and QPS). */
  burst?: number;
  perSecond?: number;
  onResult?: (result: EventResult) => void;
  /** Whether the grant change an event names has happened (from the watch-fed view). */
  grantChangeTookEffect?: (after: NonNullable<WarningEvent['after']>) => boolean;
}

export const REPORTING_CONTROLLER = 'kgateway-admission.dev/webhook';
const MAX_TRACKED_OBJECTS = 10_000;

/** An RFC 3339 time with microseconds, the form of events.k8s.io's eventTime (MicroTime). */
function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/**
 * Records Warning events (events.k8s.io/v1) from admission decisions, after
 * the write they come from has taken effect: the object is read back (it may
 * never have been stored: a later webhook or a conflict can refuse it) and a
 * grant change is checked, on the watch-fed view, to have happened. Rate-limited per object and in
 * all; never on the admission path (fire and forget, failures only logged).
 */
export class EventRecorder {
  private readonly lastRecorded = new Map<string, number>();
  private readonly resources = new Map<string, Promise<DiscoveredResource | undefined>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private tokens: number;
  private refilledAt = Date.now();
  private readonly instance: string;

  constructor(private readonly options: EventRecorderOptions) {
    this.tokens = options.burst ?? 25;
    this.instance = options.reportingInstance ?? process.env.POD_NAME ?? hostname();
  }

  record(events: readonly WarningEvent[]): void {
    for (const event of events) {
      if (!this.admit(event)) {
        this.options.onResult?.('rate-limited');
        continue;
      }
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.send(event).then(
          (result) => this.options.onResult?.(result),
          (error: unknown) => {
            this.options.onResult?.('failed');
            this.options.logger.warn({ err: error, kind: event.regarding.kind, namespace: event.regarding.namespace, name: event.regarding.name }, 'could not record a Warning event');
          },
        );
      }, this.options.delayMs ?? 1_000);
      timer.unref();
      this.timers.add(timer);
    }
  }

  stop(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private admit(event: WarningEvent): boolean {
    const now = Date.now();
    const key = `${event.reason}|${event.regarding.group}/${event.regarding.kind}/${event.regarding.namespace}/${event.regarding.name}`;
    const last = this.lastRecorded.get(key);
    if (last !== undefined && now - last < (this.options.perObjectIntervalMs ?? 300_000)) return false;
    const perSecond = this.options.perSecond ?? 1;
    this.tokens = Math.min(this.options.burst ?? 25, this.tokens + ((now - this.refilledAt) / 1000) * perSecond);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    this.lastRecorded.delete(key);
    this.lastRecorded.set(key, now);
    if (this.lastRecorded.size > MAX_TRACKED_OBJECTS) this.lastRecorded.delete(this.lastRecorded.keys().next().value!);
    return true;
  }

  private async send(event: WarningEvent): Promise<EventResult> {
    if (event.after && this.options.grantChangeTookEffect && !this.options.grantChangeTookEffect(event.after)) return 'dropped';
    const regarding = await this.read(event.regarding);
    if (!regarding) return 'dropped';
    const related = event.related ? await this.reference(event.related) : undefined;
    const now = new Date();
    const suffix = `.${now.getTime().toString(16)}${randomBytes(2).toString('hex')}`;
    const body = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: `${event.regarding.name.slice(0, 253 - suffix.length)}${suffix}`, namespace: event.regarding.namespace },
      eventTime: microTime(now),
      reportingController: REPORTING_CONTROLLER,
      reportingInstance: this.instance,
      type: 'Warning',
      reason: event.reason,
      action: event.action,
      note: event.note,
      regarding: {
        apiVersion: regarding.apiVersion,
        kind: event.regarding.kind,
        namespace: event.regarding.namespace,
        name: event.regarding.name,
        uid: regarding.metadata?.uid,
        resourceVersion: regarding.metadata?.resourceVersion,
      },
      ...(related ? { related } : {}),
    };
    const res = await this.options.api.request('POST', apiPath('apis', 'events.k8s.io', 'v1', 'namespaces', event.regarding.namespace, 'events'), body);
    if (res.status !== 201) throw new KubeApiError(res.status, `POST event: ${res.status} ${res.text.slice(0, 300)}`);
    return 'recorded';
  }

  private resource(object: EventObject): Promise<DiscoveredResource | undefined> {
    const key = `${object.group}/${object.kind}`;
    let found = this.resources.get(key);
    if (!found) {
      found = this.options.api.discover(object.group, object.kind);
      // A failed discovery is asked again next time.
      found.catch(() => this.resources.delete(key));
      this.resources.set(key, found);
    }
    return found;
  }

  /** The object as stored now, or undefined when it is not (404). */
  private async read(object: EventObject): Promise<{ apiVersion: string; metadata?: { uid?: string; resourceVersion?: string } } | undefined> {
    const resource = await this.resource(object);
    if (!resource) return undefined;
    const version = resource.versions[0]!;
    const res = await this.options.api.request('GET', `${collectionPath(resource, version, object.namespace)}/${encodeURIComponent(object.name)}`);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new KubeApiError(res.status, `GET ${object.kind} ${object.namespace}/${object.name}: ${res.status}`);
    return res.body as { apiVersion: string; metadata?: { uid?: string; resourceVersion?: string } };
  }

  private async reference(object: EventObject): Promise<Record<string, string> | undefined> {
    const resource = await this.resource(object);
    if (!resource) return undefined;
    return { apiVersion: `${object.group}/${resource.versions[0]}`, kind: object.kind, namespace: object.namespace, name: object.name };
  }
}
