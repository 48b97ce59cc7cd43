import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { apiPath, type KubeApi } from './kubeApi.js';

export interface LeaseElectorOptions {
  api: KubeApi;
  logger: Logger;
  namespace: string;
  name: string;
  identity?: string;
  /** How long a lease holds without renewal (client-go's default 15 s). */
  leaseDurationSeconds?: number;
  onStartedLeading?: () => void;
  onStoppedLeading?: () => void;
}

interface Lease {
  metadata: { resourceVersion?: string };
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; renewTime?: string; acquireTime?: string; leaseTransitions?: number };
}

function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's
 * leaderelection does it: the holder renews every `retry` (a fifth of the
 * lease), a candidate takes the lease over once it is `leaseDuration` past its
 * last renewal, and every write is conditional on the resourceVersion read, so
 * two candidates cannot both win. The holder counts as leader only while its
 * last renewal is younger than the renew deadline (two thirds of the lease),
 * so it stops acting before anyone else may take over.
 */
export class LeaseElector {
  readonly identity: string;
  private readonly durationMs: number;
  private renewedAt = 0;
  private leading = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  /** When another holder's lease was first seen with this renewTime (our clock: theirs may differ). */
  private observed: { key: string; at: number } | undefined;

  constructor(private readonly options: LeaseElectorOptions) {
    this.identity = options.identity ?? process.env.POD_NAME ?? `${hostname()}-${process.pid}`;
    this.durationMs = (options.leaseDurationSeconds ?? 15) * 1000;
  }

  isLeader(): boolean {
    return this.leading && Date.now() - this.renewedAt < (this.durationMs * 2) / 3;
  }

  start(): void {
    this.stopped = false;
    void this.tick();
  }

  /** Stops renewing and, when leading, gives the lease up so another replica takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.leading) {
      this.setLeading(false);
      try {
        const lease = await this.read();
        if (lease?.spec?.holderIdentity === this.identity) {
          await this.write({ ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(Date.now()) } }, false);
        }
      } catch {
        // The lease expires by itself.
      }
    }
  }

  private path(name?: string): string {
    const base = apiPath('apis', 'coordination.k8s.io', 'v1', 'namespaces', this.options.namespace, 'leases');
    return name ? `${base}/${encodeURIComponent(name)}` : base;
  }

  private async read(): Promise<Lease | undefined> {
    const res = await this.options.api.request('GET', this.path(this.options.name));
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new Error(`GET lease: ${res.status} ${res.text.slice(0, 200)}`);
    return res.body as Lease;
  }

  private async write(lease: Lease, create: boolean): Promise<boolean> {
    const body = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', ...lease, metadata: { ...lease.metadata, name: this.options.name, namespace: this.options.namespace } };
    const res = create ? await this.options.api.request('POST', this.path(), body) : await this.options.api.request('PUT', this.path(this.options.name), body);
    // 409: someone else wrote first; they won this round.
    if (res.status === 409) return false;
    if (res.status !== 200 && res.status !== 201) throw new Error(`${create ? 'POST' : 'PUT'} lease: ${res.status} ${res.text.slice(0, 200)}`);
    return true;
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.tryAcquireOrRenew();
    } catch (error) {
      this.options.logger.warn({ err: error, lease: `${this.options.namespace}/${this.options.name}` }, 'report leader election: lease request failed');
      if (!this.isLeader()) this.setLeading(false);
    }
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), Math.max(200, this.durationMs / 5));
    this.timer.unref();
  }

  private async tryAcquireOrRenew(): Promise<void> {
    const now = Date.now();
    const spec = { holderIdentity: this.identity, leaseDurationSeconds: Math.ceil(this.durationMs / 1000), renewTime: microTime(now) };
    const lease = await this.read();
    if (!lease) {
      if (await this.write({ metadata: {}, spec: { ...spec, acquireTime: microTime(now), leaseTransitions: 0 } }, true)) this.renewed(now);
      return;
    }
    const holder = lease.spec?.holderIdentity ?? '';
    if (holder === this.identity) {
      if (await this.write({ ...lease, spec: { ...lease.spec, ...spec } }, false)) this.renewed(now);
      else this.setLeading(false);
      return;
    }
    // Another holder: its lease is judged by when we saw it renewed, not by its clock.
    const key = `${holder}|${lease.spec?.renewTime ?? ''}`;
    if (!this.observed || this.observed.key !== key) this.observed = { key, at: now };
    const durationMs = (lease.spec?.leaseDurationSeconds ?? this.durationMs / 1000) * 1000;
    if (holder !== '' && now - this.observed.at < durationMs) {
      this.setLeading(false);
      return;
    }
    const taken = { ...lease, spec: { ...spec, acquireTime: microTime(now), leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + 1 } };
    if (await this.write(taken, false)) this.renewed(now);
    else this.setLeading(false);
  }

  private renewed(at: number): void {
    this.renewedAt = at;
    this.setLeading(true);
  }

  private setLeading(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    this.options.logger.info({ identity: this.identity, lease: `${this.options.namespace}/${this.options.name}` }, leading ? 'report leader: this replica writes the reports' : 'report leader: another replica writes the reports');
    if (leading) this.options.onStartedLeading?.();
    else this.options.onStoppedLeading?.();
  }
}
