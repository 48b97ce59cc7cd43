import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeConnectionConfig } from './kubeCredentials.js';
import type { Logger } from 'pino';
import { CERT_FILES, generateCertificates } from '../certificates/certificates.js';
import { KubeApi } from './kubeApi.js';

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
 * (1 year; its key sits in the Secret) with an overlap (planCertificates),
 * and puts caBundle back when something replaced the webhook configurations
 * without it.
 *
 * RBAC this needs: secrets create (in the namespace; create cannot be limited
 * by name), secrets get and update of the one Secret, and get and patch of the
 * named Mutating/ValidatingWebhookConfigurations.
 */
export interface SelfManagedCertificatesOptions {
  kubeConfig: KubeConnectionConfig;
  namespace: string;
  secretName: string;
  serviceName: string;
  /** Mutating and/or ValidatingWebhookConfiguration names whose webhooks get caBundle. */
  webhookConfigs: readonly string[];
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

export interface CertificateFiles {
  certFile: string;
  keyFile: string;
  caFile: string;
}

/** What the Secret holds (PEM). `caCert` may be a bundle: the signing CA first, then a previous CA still trusted. */
export interface StoredCertificates {
  caCert: string;
  caKey: string;
  cert: string;
  key: string;
}

export const SECRET_KEYS = { caCert: 'ca.crt', caKey: 'ca.key', cert: 'tls.crt', key: 'tls.key' } as const;
const DAY_MS = 86_400_000;
const WEBHOOK_KINDS = [
  { kind: 'MutatingWebhookConfiguration', plural: 'mutatingwebhookconfigurations' },
  { kind: 'ValidatingWebhookConfiguration', plural: 'validatingwebhookconfigurations' },
] as const;

interface KubeResponse {
  status: number;
  body: any;
}

export class SelfManagedCertificatesError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SelfManagedCertificatesError';
  }
}

/** The DNS names the API server may use for a webhook Service. */
export function serviceHostNames(serviceName: string, namespace: string): string[] {
  return [`${serviceName}.${namespace}.svc`, `${serviceName}.${namespace}.svc.cluster.local`, `${serviceName}.${namespace}`, serviceName];
}

/** Splits a PEM bundle into its certificates. */
export function splitPem(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((c) => `${c}\n`) ?? [];
}

/**
 * What to do with the stored certificates:
 * - `use`: serve them as they are;
 * - `new`: no usable CA (missing, unreadable, key mismatch, or expiring too
 *   soon to rotate gracefully): a new CA and serving certificate at once,
 *   still trusting the previous CA while it is valid;
 * - `add-ca`: the CA has less than a third of its life left: a new CA goes
 *   first in the bundle (and signs from now on) while the serving certificate
 *   of the old CA, still trusted, keeps serving until the new CA is in every
 *   caBundle;
 * - `reissue`: a new serving certificate from the first CA.
 */
export type CertificatePlan = { action: 'use' } | { action: 'new' | 'add-ca' | 'reissue'; reason: string };

export interface RotationPolicy {
  /** Renew the serving certificate when it has less than this left. */
  renewBeforeMs: number;
  /**
   * A new CA must have been in caBundle this long before a serving
   * certificate it signed is used (the API servers pick up caBundle through
   * their informers; this leaves them ample time).
   */
  caOverlapMs: number;
  /** Whether this replica has seen the stored CA bundle in every webhook's caBundle. */
  bundlePublished: boolean;
}

/**
 * The rotation decision, pure: the first CA of the bundle signs; the serving
 * certificate must be signed by a CA of the bundle, match its key, cover
 * `host` and be valid for more than `renewBeforeMs`. A CA is rotated with an
 * overlap (`add-ca`, then `reissue` once the new CA is published and
 * `caOverlapMs` old), so no call fails on a serving certificate the API
 * server does not trust yet.
 */
export function planCertificates(stored: Partial<StoredCertificates>, host: string, policy: RotationPolicy, now = Date.now()): CertificatePlan {
  let ca: X509Certificate;
  let bundle: X509Certificate[];
  try {
    const pems = splitPem(stored.caCert ?? '');
    if (pems.length === 0 || !stored.caKey) return { action: 'new', reason: 'no CA' };
    bundle = pems.map((pem) => new X509Certificate(pem));
    ca = bundle[0]!;
    if (!ca.ca || !ca.checkPrivateKey(createPrivateKey(stored.caKey))) return { action: 'new', reason: 'the CA key does not match the CA' };
  } catch (error) {
    return { action: 'new', reason: `unreadable CA: ${(error as Error).message}` };
  }
  const caLeft = Date.parse(ca.validTo) - now;
  const caLife = Date.parse(ca.validTo) - Date.parse(ca.validFrom);
  // Too late for an overlap: the old CA would expire before the new one is everywhere.
  if (caLeft < Math.max(policy.renewBeforeMs, 2 * policy.caOverlapMs)) return { action: 'new', reason: `the CA expires ${ca.validTo}` };
  if (caLeft < caLife / 3) return { action: 'add-ca', reason: `the CA has less than a third of its life left (expires ${ca.validTo})` };
  const reissue = (reason: string): CertificatePlan => ({ action: 'reissue', reason });
  try {
    if (!stored.cert || !stored.key) return reissue('no serving certificate');
    const leaf = new X509Certificate(stored.cert);
    const signer = bundle.find((c) => leaf.checkIssued(c) && leaf.verify(c.publicKey));
    if (!signer) return reissue('the serving certificate is not signed by a CA of the bundle');
    if (!leaf.checkPrivateKey(createPrivateKey(stored.key))) return reissue('the key does not match the serving certificate');
    if (leaf.checkHost(host) === undefined) return reissue(`the serving certificate does not cover ${host}`);
    if (Date.parse(leaf.validTo) - now < policy.renewBeforeMs) return reissue(`the serving certificate expires ${leaf.validTo}`);
    if (Date.parse(leaf.validFrom) > now + 60_000) return reissue(`the serving certificate is not valid before ${leaf.validFrom}`);
    if (signer !== ca && policy.bundlePublished && now - Date.parse(ca.validFrom) >= policy.caOverlapMs) {
      return reissue('a newer CA is in every caBundle: moving the serving certificate to it');
    }
  } catch (error) {
    return reissue(`unreadable serving certificate: ${(error as Error).message}`);
  }
  return { action: 'use' };
}

/** A serving certificate for `hosts` signed by an existing CA. */
export async function issueServingCertificate(ca: { cert: string; key: string }, hosts: readonly string[], days: number): Promise<{ cert: string; key: string }> {
  const { generate } = await import('selfsigned');
  const now = new Date();
  const caNotAfter = Date.parse(new X509Certificate(splitPem(ca.cert)[0] ?? ca.cert).validTo);
  const notAfterDate = new Date(Math.min(now.getTime() + days * DAY_MS, caNotAfter));
  const serving = await generate([{ name: 'commonName', value: hosts[0] ?? 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate: now,
    notAfterDate,
    ca: { key: ca.key, cert: splitPem(ca.cert)[0] ?? ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: hosts.map((value) => ({ type: 2 as const, value })) },
    ],
  });
  return { cert: serving.cert, key: serving.private };
}

function decodeSecret(secret: any): Partial<StoredCertificates> {
  const data = (secret?.data ?? {}) as Record<string, string>;
  const get = (key: string): string | undefined => (typeof data[key] === 'string' ? Buffer.from(data[key], 'base64').toString('utf8') : undefined);
  return { caCert: get(SECRET_KEYS.caCert), caKey: get(SECRET_KEYS.caKey), cert: get(SECRET_KEYS.cert), key: get(SECRET_KEYS.key) } as Partial<StoredCertificates>;
}

function encodeSecretData(stored: StoredCertificates): Record<string, string> {
  const b64 = (text: string): string => Buffer.from(text).toString('base64');
  return {
    [SECRET_KEYS.caCert]: b64(stored.caCert),
    [SECRET_KEYS.caKey]: b64(stored.caKey),
    [SECRET_KEYS.cert]: b64(stored.cert),
    [SECRET_KEYS.key]: b64(stored.key),
  };
}

async function writeAtomically(file: string, content: string, mode: number): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, content, { mode });
  await rename(tmp, file);
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
  private readonly host: string;
  private readonly hosts: string[];

  constructor(private readonly options: SelfManagedCertificatesOptions) {
    this.hosts = serviceHostNames(options.serviceName, options.namespace);
    this.host = this.hosts[0]!;
    this.files = {
      certFile: join(options.dir, CERT_FILES.cert),
      keyFile: join(options.dir, CERT_FILES.key),
      caFile: join(options.dir, CERT_FILES.caCert),
    };
  }

  /** The certificates in use (after start). */
  get certificates(): StoredCertificates | undefined {
    return this.current;
  }

  private get secretPath(): string {
    return `/api/v1/namespaces/${encodeURIComponent(this.options.namespace)}/secrets`;
  }

  private get renewBeforeMs(): number {
    return (this.options.renewBeforeDays ?? 30) * DAY_MS;
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
    const { logger, secretName } = this.options;
    for (let attempt = 0; attempt < 6; attempt++) {
      const got = await this.request('GET', `${this.secretPath}/${encodeURIComponent(secretName)}`);
      if (got.status === 404) {
        // Deleted while running: keep trusting the CA this replica serves with until the others adopt the new one.
        const fresh = await this.newBundle(this.current?.caCert);
        const created = await this.request('POST', this.secretPath, this.secretObject(fresh));
        if (created.status === 201) {
          logger.info({ secret: `${this.options.namespace}/${secretName}`, host: this.host }, 'self-managed certificates: created the CA and serving certificate');
          return this.use(fresh);
        }
        if (created.status === 409) continue; // another replica created it first: adopt it
        throw this.failure('create', created);
      }
      if (got.status !== 200) throw this.failure('read', got);
      const stored = decodeSecret(got.body);
      const plan = planCertificates(stored, this.host, this.rotationPolicy(stored.caCert));
      if (plan.action === 'use') return this.use(stored as StoredCertificates);
      const renewed =
        plan.action === 'reissue'
          ? await this.renewServing(stored as StoredCertificates)
          : plan.action === 'add-ca'
            ? await this.addCa(stored as StoredCertificates)
            : await this.newBundle(stored.caCert);
      const updated = await this.request('PUT', `${this.secretPath}/${encodeURIComponent(secretName)}`, {
        ...this.secretObject(renewed),
        metadata: { ...got.body.metadata, labels: { ...(got.body.metadata?.labels ?? {}), ...this.labels() } },
      });
      if (updated.status === 200) {
        logger.info({ secret: `${this.options.namespace}/${secretName}`, reason: plan.reason, action: plan.action }, 'self-managed certificates: renewed');
        return this.use(renewed);
      }
      if (updated.status === 409) continue; // another replica renewed it first: re-read and adopt
      throw this.failure('update', updated);
    }
    throw new SelfManagedCertificatesError(`self-managed certificates: Secret ${this.options.namespace}/${secretName} kept changing under us`);
  }

  /**
   * Puts the CA into caBundle of every webhook of the named configurations
   * (Mutating and Validating), by JSON Patch guarded with a `test` of each
   * webhook's name, so a concurrent edit of the list fails the patch instead
   * of landing on the wrong entry. Returns how many configurations were found.
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
          const webhooks = (got.body.webhooks ?? []) as { name: string; clientConfig?: { caBundle?: string } }[];
          const ops = webhooks.flatMap((webhook, i) =>
            webhook.clientConfig?.caBundle === caBundle
              ? []
              : [
                  { op: 'test', path: `/webhooks/${i}/name`, value: webhook.name },
                  { op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: caBundle },
                ],
          );
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

  private async newBundle(previousCaCert?: string): Promise<StoredCertificates> {
    const caDays = this.options.caValidityDays ?? 365;
    const { caCert, caKey } = await generateCertificates([this.host], caDays);
    const serving = await issueServingCertificate({ cert: caCert, key: caKey }, this.hosts, this.options.certValidityDays ?? 365);
    // Keep trusting a previous CA that is still valid, so replicas still
    // serving its certificate keep working until they pick up the new one.
    const previous = splitPem(previousCaCert ?? '').slice(0, 1).filter((pem) => {
      try {
        return Date.parse(new X509Certificate(pem).validTo) > Date.now();
      } catch {
        return false;
      }
    });
    return { caCert: [caCert.endsWith('\n') ? caCert : `${caCert}\n`, ...previous].join(''), caKey, cert: serving.cert, key: serving.key };
  }

  private rotationPolicy(storedBundle: string | undefined): RotationPolicy {
    return {
      renewBeforeMs: this.renewBeforeMs,
      caOverlapMs: this.options.caOverlapMs ?? 3_600_000,
      bundlePublished: storedBundle !== undefined && this.publishedBundle === storedBundle,
    };
  }

  /**
   * A new CA first in the bundle, the old one kept after it; the serving
   * certificate of the old CA keeps serving (the API server trusts it) until
   * the new CA is published, unless it is unusable anyway.
   */
  private async addCa(stored: StoredCertificates): Promise<StoredCertificates> {
    const { caCert, caKey } = await generateCertificates([this.host], this.options.caValidityDays ?? 365);
    const next = { ...stored, caCert: [caCert.endsWith('\n') ? caCert : `${caCert}\n`, ...splitPem(stored.caCert).slice(0, 1)].join(''), caKey };
    const plan = planCertificates(next, this.host, this.rotationPolicy(undefined));
    return plan.action === 'reissue' ? this.renewServing(next) : next;
  }

  private async renewServing(stored: StoredCertificates): Promise<StoredCertificates> {
    const serving = await issueServingCertificate({ cert: stored.caCert, key: stored.caKey }, this.hosts, this.options.certValidityDays ?? 365);
    return { ...stored, ...serving };
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
    const message = typeof res.body === 'object' && res.body?.message ? res.body.message : String(res.body).slice(0, 300);
    const target = what.includes(' ') ? what : `${what} Secret ${this.options.namespace}/${this.options.secretName}`;
    return new SelfManagedCertificatesError(`self-managed certificates: cannot ${target}: ${res.status} ${message}`);
  }

  private api: KubeApi | undefined;

  private async request(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<KubeResponse> {
    if (!this.options.kubeConfig.getCurrentCluster()) throw new SelfManagedCertificatesError('the kubeconfig has no current cluster');
    this.api ??= new KubeApi(this.options.kubeConfig);
    return this.api.request(method, path, body, contentType);
  }
}
