import { mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { KubeApi, KubeResponse } from '../kube/kubeApi.js';
import { certificateFilesIn, writeAtomically, type CertificateFiles } from './files.js';
import { generateCa, issueServingCertificate, splitPem } from './generate.js';
import {
  caBundlePatch,
  decideSecret,
  webhooksWithOtherConditions,
  type MatchCondition,
  decodeSecret,
  encodeSecretData,
  joinPem,
  serviceHostNames,
  type ObservedWebhook,
  type SecretDecision,
  type StoredCertificates,
} from './selfManagedPlan.js';

/**
 * Self-managed webhook certificates, as Kyverno does it: the server makes its
 * own CA and serving certificate for `SERVICE.NAMESPACE.svc`, keeps them in
 * one Secret shared by every replica, writes them to a writable folder for
 * the TLS loader, and puts the CA into `caBundle` of its own webhook
 * configurations.
 *
 * Replicas race safely: a create that loses (409 AlreadyExists) adopts the
 * winner's Secret, and a renewal is an update with the read resourceVersion
 * (409 Conflict: re-read and adopt). A periodic check re-reads the Secret
 * (another replica may have renewed it), renews the serving certificate
 * before it expires (same CA, so caBundle does not change), rotates the CA
 * (1 year; its key sits in the Secret) with an overlap, and puts caBundle
 * back when something replaced the webhook configurations without it. What
 * to do each time is decided in selfManagedPlan.ts; this class reads,
 * generates and writes.
 *
 * RBAC this needs: secrets create (in the namespace; create cannot be limited
 * by name), secrets get and update of the one Secret, and get and patch of the
 * named Mutating/ValidatingWebhookConfigurations.
 */
export interface SelfManagedCertificatesOptions {
  /** The process's one API client (cli/composition.ts). */
  api: KubeApi;
  namespace: string;
  secretName: string;
  serviceName: string;
  /** Mutating and/or ValidatingWebhookConfiguration names whose webhooks get caBundle. */
  webhookConfigs: readonly string[];
  /**
   * The matchConditions each webhook of those configurations should carry, by
   * webhook name (src/rules/matchConditions.ts webhookMatchConditions): a
   * webhook with others is reported (a warning, at each change), never
   * patched (see webhooksWithOtherConditions).
   */
  matchConditions?: ReadonlyMap<string, readonly MatchCondition[]>;
  /** Writable folder for tls.crt, tls.key and ca.crt (an emptyDir in the chart). */
  dir: string;
  logger: Logger;
  /** Lifetime of a new CA (default 365 days); it is rotated with a third of it left. */
  caValidityDays?: number;
  certValidityDays?: number;
  /** Renew the serving certificate when it has less than this left (default 30 days). */
  renewBeforeDays?: number;
  /** How long a new CA is in caBundle before it signs the certificate served (default 1 hour). */
  caOverlapMs?: number;
  /** How often the Secret and caBundle are checked again after start. */
  checkIntervalMs?: number;
  /** Field manager of the caBundle patches. */
  fieldManager?: string;
  /** How long start() retries while the API server cannot be reached (default 60 s). */
  startTimeoutMs?: number;
}

const DAY_MS = 86_400_000;
const WEBHOOK_KINDS = [
  { kind: 'MutatingWebhookConfiguration', plural: 'mutatingwebhookconfigurations' },
  { kind: 'ValidatingWebhookConfiguration', plural: 'validatingwebhookconfigurations' },
] as const;

/** The fields read of a Secret or webhook configuration the API server returned. */
interface StoredObject {
  metadata?: { labels?: Record<string, string> } & Record<string, unknown>;
  webhooks?: ObservedWebhook[];
  message?: string;
}

function bodyOf(res: KubeResponse): StoredObject {
  return typeof res.body === 'object' && res.body !== null ? (res.body as StoredObject) : {};
}

export class SelfManagedCertificatesError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SelfManagedCertificatesError';
  }
}

export class SelfManagedCertificates {
  readonly files: CertificateFiles;
  private current: StoredCertificates | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private caBundlePatched = false;
  /** The CA bundle this replica last saw in every webhook's caBundle. */
  private publishedBundle: string | undefined;
  private patchRetryMs = 1_000;
  /** Per configuration, the webhooks last reported with other matchConditions. */
  private readonly reportedConditions = new Map<string, string>();
  private readonly host: string;
  private readonly hosts: string[];

  constructor(private readonly options: SelfManagedCertificatesOptions) {
    this.hosts = serviceHostNames(options.serviceName, options.namespace);
    this.host = this.hosts[0]!;
    this.files = certificateFilesIn(options.dir);
  }

  /** The certificates in use (after start). */
  get certificates(): StoredCertificates | undefined {
    return this.current;
  }

  private get secretPath(): string {
    return `/api/v1/namespaces/${encodeURIComponent(this.options.namespace)}/secrets`;
  }

  /**
   * Gets (or creates) the Secret and writes the files; throws when that fails,
   * since there is nothing to serve with. Then puts caBundle into the webhook
   * configurations, retrying in the background while none of them exist yet
   * (Helm creates them after the Deployment).
   */
  async start(): Promise<CertificateFiles> {
    this.stopped = false;
    // Retry while the API server cannot be reached (a pod can start before
    // its network is up); an answer that refuses (403, 422…) fails at once.
    const deadline = Date.now() + (this.options.startTimeoutMs ?? 60_000);
    for (let delay = 500; ; delay = Math.min(delay * 2, 5_000)) {
      try {
        await this.ensureSecret();
        break;
      } catch (error) {
        if (error instanceof SelfManagedCertificatesError || Date.now() + delay > deadline) throw error;
        this.options.logger.warn({ err: error, retryInMs: delay }, 'self-managed certificates: API server not reachable; retrying');
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
    await this.patchCaBundles().catch((error: unknown) => this.options.logger.warn({ err: error }, 'could not set caBundle yet; retrying'));
    this.schedule(this.caBundlePatched ? this.checkIntervalMs : this.patchRetryMs);
    return this.files;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private get checkIntervalMs(): number {
    return this.options.checkIntervalMs ?? 10 * 60_000;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.check(), delayMs);
    this.timer.unref();
  }

  /** One periodic round: re-read (or renew) the Secret, then make sure caBundle is in place. */
  async check(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.ensureSecret();
    } catch (error) {
      this.options.logger.warn({ err: error }, 'self-managed certificates: could not check the Secret; serving the current certificate');
    }
    try {
      await this.patchCaBundles();
    } catch (error) {
      this.caBundlePatched = false;
      this.options.logger.warn({ err: error }, 'self-managed certificates: could not set caBundle');
    }
    if (this.caBundlePatched) {
      this.patchRetryMs = 1_000;
      this.schedule(this.checkIntervalMs);
    } else {
      const delay = this.patchRetryMs;
      this.patchRetryMs = Math.min(this.patchRetryMs * 2, 30_000);
      this.schedule(Math.min(delay, this.checkIntervalMs));
    }
  }

  /** Create-or-get with optimistic concurrency; ends with the files holding the Secret's certificates. */
  async ensureSecret(): Promise<StoredCertificates> {
    const { logger, namespace, secretName } = this.options;
    const secretUrl = `${this.secretPath}/${encodeURIComponent(secretName)}`;
    for (let attempt = 0; attempt < 6; attempt++) {
      const got = await this.request('GET', secretUrl);
      if (got.status !== 200 && got.status !== 404) throw this.failure('read', got);
      const stored = got.status === 404 ? undefined : decodeSecret(got.body);
      const decision = decideSecret(stored, {
        host: this.host,
        renewBeforeMs: (this.options.renewBeforeDays ?? 30) * DAY_MS,
        caOverlapMs: this.options.caOverlapMs ?? 3_600_000,
        serving: this.current?.caCert,
        published: this.publishedBundle,
        now: Date.now(),
      });
      if (decision.action === 'use') return this.use(stored as StoredCertificates);
      const next = await this.carryOut(decision, stored);
      if (decision.action === 'create') {
        const created = await this.request('POST', this.secretPath, this.secretObject(next));
        if (created.status === 201) {
          logger.info({ secret: `${namespace}/${secretName}`, host: this.host }, 'self-managed certificates: created the CA and serving certificate');
          return this.use(next);
        }
        if (created.status === 409) continue; // another replica created it first: adopt it
        throw this.failure('create', created);
      }
      const updated = await this.request('PUT', secretUrl, {
        ...this.secretObject(next),
        metadata: { ...bodyOf(got).metadata, labels: { ...(bodyOf(got).metadata?.labels ?? {}), ...this.labels() } },
      });
      if (updated.status === 200) {
        logger.info({ secret: `${namespace}/${secretName}`, reason: decision.reason, action: decision.action }, 'self-managed certificates: renewed');
        return this.use(next);
      }
      if (updated.status === 409) continue; // another replica renewed it first: re-read and adopt
      throw this.failure('update', updated);
    }
    throw new SelfManagedCertificatesError(`self-managed certificates: Secret ${namespace}/${secretName} kept changing under us`);
  }

  /** The certificates a decision calls for: generated here, written by the caller. */
  private async carryOut(decision: Exclude<SecretDecision, { action: 'use' }>, stored: Partial<StoredCertificates> | undefined): Promise<StoredCertificates> {
    const caDays = this.options.caValidityDays ?? 365;
    switch (decision.action) {
      case 'create':
      case 'replace': {
        // Keep trusting a previous CA that is still valid, so replicas still
        // serving its certificate keep working until they pick up the new one.
        const ca = await generateCa(caDays);
        return this.reissue({ caCert: joinPem([ca.cert, ...decision.trust]), caKey: ca.key });
      }
      case 'add-ca': {
        const ca = await generateCa(caDays);
        const next = { ...(stored as StoredCertificates), caCert: joinPem([ca.cert, ...splitPem(stored!.caCert!).slice(0, 1)]), caKey: ca.key };
        return decision.reissue ? this.reissue(next) : next;
      }
      case 'reissue':
        return this.reissue(stored as StoredCertificates);
    }
  }

  /** `ca` with a new serving certificate from its first CA. */
  private async reissue(ca: { caCert: string; caKey: string }): Promise<StoredCertificates> {
    const serving = await issueServingCertificate({ cert: ca.caCert, key: ca.caKey }, this.hosts, this.options.certValidityDays ?? 365);
    return { ...ca, ...serving };
  }

  /**
   * Puts the CA into caBundle of every webhook of the named configurations
   * (Mutating and Validating), by JSON Patch guarded with a `test` of each
   * webhook's name (caBundlePatch). Returns how many configurations were found.
   */
  async patchCaBundles(): Promise<number> {
    const caBundle = this.current ? Buffer.from(this.current.caCert).toString('base64') : undefined;
    if (!caBundle) throw new SelfManagedCertificatesError('no certificates yet');
    if (this.options.webhookConfigs.length === 0) {
      this.caBundlePatched = true;
      this.publishedBundle = this.current!.caCert;
      return 0;
    }
    let found = 0;
    const publishing = this.current!.caCert;
    for (const name of this.options.webhookConfigs) {
      for (const { kind, plural } of WEBHOOK_KINDS) {
        const path = `/apis/admissionregistration.k8s.io/v1/${plural}/${encodeURIComponent(name)}`;
        for (let attempt = 0; ; attempt++) {
          const got = await this.request('GET', path);
          if (got.status === 404) break;
          if (got.status !== 200) throw this.failure(`read ${kind} ${name}`, got);
          found++;
          const webhooks = bodyOf(got).webhooks ?? [];
          if (attempt === 0) this.reportConditions(kind, name, webhooks);
          const ops = caBundlePatch(webhooks, caBundle);
          if (ops.length === 0) break;
          const patched = await this.request('PATCH', `${path}?fieldManager=${encodeURIComponent(this.options.fieldManager ?? 'kgateway-admission')}`, ops, 'application/json-patch+json');
          if (patched.status === 200) {
            this.options.logger.info({ kind, name, webhooks: ops.length / 2 }, 'self-managed certificates: caBundle set');
            break;
          }
          // A failed `test` (the list changed meanwhile) or a conflict: read again.
          if ((patched.status === 409 || patched.status === 422 || patched.status === 500) && attempt < 4) continue;
          throw this.failure(`patch ${kind} ${name}`, patched);
        }
      }
    }
    this.caBundlePatched = found > 0;
    if (found > 0) this.publishedBundle = publishing;
    if (found === 0) {
      this.options.logger.info({ names: this.options.webhookConfigs }, 'self-managed certificates: no webhook configuration with these names yet');
    }
    return found;
  }

  /** Warns, once per change, about webhooks whose matchConditions are not what this configuration generates. */
  private reportConditions(kind: string, name: string, webhooks: readonly ObservedWebhook[]): void {
    if (!this.options.matchConditions) return;
    const differing = webhooksWithOtherConditions(webhooks, this.options.matchConditions);
    const key = `${kind}/${name}`;
    const seen = differing.join(',');
    if ((this.reportedConditions.get(key) ?? '') === seen) return;
    this.reportedConditions.set(key, seen);
    if (differing.length === 0) return;
    this.options.logger.warn(
      { kind, name, webhooks: differing },
      'webhook matchConditions differ from what this configuration generates: render the chart again (helm upgrade) with the same config, or writes the rules act on may be skipped',
    );
  }

  private labels(): Record<string, string> {
    return { 'app.kubernetes.io/managed-by': 'kgateway-admission', 'app.kubernetes.io/component': 'webhook-certificates' };
  }

  private secretObject(stored: StoredCertificates): Record<string, unknown> {
    return {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: { name: this.options.secretName, namespace: this.options.namespace, labels: this.labels() },
      data: encodeSecretData(stored),
    };
  }

  /** Writes the files when they differ from what is in use; the TLS loader picks them up. */
  private async use(stored: StoredCertificates): Promise<StoredCertificates> {
    const changed =
      !this.current || this.current.cert !== stored.cert || this.current.key !== stored.key || this.current.caCert !== stored.caCert;
    if (changed) {
      await mkdir(this.options.dir, { recursive: true });
      // Key first, then certificate: a reload in between fails on the
      // mismatch and keeps the old pair until the next poll.
      await writeAtomically(this.files.keyFile, stored.key, 0o600);
      await writeAtomically(this.files.certFile, stored.cert, 0o644);
      await writeAtomically(this.files.caFile, stored.caCert, 0o644);
      if (this.current) this.options.logger.info({ dir: this.options.dir }, 'self-managed certificates: new certificate written for reload');
      this.current = stored;
    }
    return stored;
  }

  private failure(what: string, res: KubeResponse): SelfManagedCertificatesError {
    const message = bodyOf(res).message ?? res.text.slice(0, 300);
    const target = what.includes(' ') ? what : `${what} Secret ${this.options.namespace}/${this.options.secretName}`;
    return new SelfManagedCertificatesError(`self-managed certificates: cannot ${target}: ${res.status} ${message}`);
  }

  private async request(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<KubeResponse> {
    if (!this.options.api.kubeConfig.getCurrentCluster()) throw new SelfManagedCertificatesError('the kubeconfig has no current cluster');
    return this.options.api.request(method, path, body, contentType);
  }
}
