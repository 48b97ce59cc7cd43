import { createPrivateKey, X509Certificate } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { splitPem, type CertificateBundle } from './generate.js';

/**
 * The decisions of the self-managed mode, pure: from the Secret and the
 * webhook configurations as read, and the clock passed in, what to do (use,
 * create, replace, rotate the CA, reissue, patch caBundle). The I/O that
 * reads, generates and writes is in selfManaged.ts.
 */

/** What the Secret holds (PEM). `caCert` may be a bundle: the signing CA first, then a previous CA still trusted. */
export type StoredCertificates = CertificateBundle;

export const SECRET_KEYS = { caCert: 'ca.crt', caKey: 'ca.key', cert: 'tls.crt', key: 'tls.key' } as const;

/** The DNS names the API server may use for a webhook Service. */
export function serviceHostNames(serviceName: string, namespace: string): string[] {
  return [`${serviceName}.${namespace}.svc`, `${serviceName}.${namespace}.svc.cluster.local`, `${serviceName}.${namespace}`, serviceName];
}

/** The certificates in a Secret as the API server returns it; fields missing or not strings are left out. */
export function decodeSecret(secret: unknown): Partial<StoredCertificates> {
  const data = ((secret as { data?: unknown } | undefined)?.data ?? {}) as Record<string, unknown>;
  const stored: Partial<StoredCertificates> = {};
  for (const [field, key] of Object.entries(SECRET_KEYS) as [keyof StoredCertificates, string][]) {
    const value = data[key];
    if (typeof value === 'string') stored[field] = Buffer.from(value, 'base64').toString('utf8');
  }
  return stored;
}

export function encodeSecretData(stored: StoredCertificates): Record<string, string> {
  const b64 = (text: string): string => Buffer.from(text).toString('base64');
  return {
    [SECRET_KEYS.caCert]: b64(stored.caCert),
    [SECRET_KEYS.caKey]: b64(stored.caKey),
    [SECRET_KEYS.cert]: b64(stored.cert),
    [SECRET_KEYS.key]: b64(stored.key),
  };
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
 * The rotation decision: the first CA of the bundle signs; the serving
 * certificate must be signed by a CA of the bundle, match its key, cover
 * `host` and be valid for more than `renewBeforeMs`. A CA is rotated with an
 * overlap (`add-ca`, then `reissue` once the new CA is published and
 * `caOverlapMs` old), so no call fails on a serving certificate the API
 * server does not trust yet.
 */
export function planCertificates(stored: Partial<StoredCertificates>, host: string, policy: RotationPolicy, now: number): CertificatePlan {
  let bundle: X509Certificate[];
  try {
    const pems = splitPem(stored.caCert ?? '');
    if (pems.length === 0 || !stored.caKey) return { action: 'new', reason: 'no CA' };
    bundle = pems.map((pem) => new X509Certificate(pem));
    const ca = bundle[0]!;
    if (!ca.ca || !ca.checkPrivateKey(createPrivateKey(stored.caKey))) return { action: 'new', reason: 'the CA key does not match the CA' };
  } catch (error) {
    return { action: 'new', reason: `unreadable CA: ${(error as Error).message}` };
  }
  const ca = bundle[0]!;
  const caLeft = Date.parse(ca.validTo) - now;
  const caLife = Date.parse(ca.validTo) - Date.parse(ca.validFrom);
  // Too late for an overlap: the old CA would expire before the new one is everywhere.
  if (caLeft < Math.max(policy.renewBeforeMs, 2 * policy.caOverlapMs)) return { action: 'new', reason: `the CA expires ${ca.validTo}` };
  if (caLeft < caLife / 3) return { action: 'add-ca', reason: `the CA has less than a third of its life left (expires ${ca.validTo})` };
  const problem = servingProblem(stored, bundle, host, policy, now);
  return problem === undefined ? { action: 'use' } : { action: 'reissue', reason: problem };
}

/** Why the serving certificate must be reissued, with `bundle[0]` signing; undefined when it can keep serving. */
function servingProblem(stored: Partial<StoredCertificates>, bundle: X509Certificate[], host: string, policy: RotationPolicy, now: number): string | undefined {
  const ca = bundle[0]!;
  try {
    if (!stored.cert || !stored.key) return 'no serving certificate';
    const leaf = new X509Certificate(stored.cert);
    const signer = bundle.find((c) => leaf.checkIssued(c) && leaf.verify(c.publicKey));
    if (!signer) return 'the serving certificate is not signed by a CA of the bundle';
    if (!leaf.checkPrivateKey(createPrivateKey(stored.key))) return 'the key does not match the serving certificate';
    if (leaf.checkHost(host) === undefined) return `the serving certificate does not cover ${host}`;
    if (Date.parse(leaf.validTo) - now < policy.renewBeforeMs) return `the serving certificate expires ${leaf.validTo}`;
    if (Date.parse(leaf.validFrom) > now + 60_000) return `the serving certificate is not valid before ${leaf.validFrom}`;
    if (signer !== ca && policy.bundlePublished && now - Date.parse(ca.validFrom) >= policy.caOverlapMs) {
      return 'a newer CA is in every caBundle: moving the serving certificate to it';
    }
  } catch (error) {
    return `unreadable serving certificate: ${(error as Error).message}`;
  }
  return undefined;
}

/** The first CA of `bundle` while it is still valid at `now` (none otherwise): what a replacement CA bundle keeps trusting. */
export function stillTrusted(bundle: string | undefined, now: number): string[] {
  return splitPem(bundle ?? '')
    .slice(0, 1)
    .filter((pem) => {
      try {
        return Date.parse(new X509Certificate(pem).validTo) > now;
      } catch {
        return false;
      }
    });
}

/** PEM certificates joined into one bundle, each ending in a newline. */
export function joinPem(pems: readonly string[]): string {
  return pems.map((pem) => (pem.endsWith('\n') ? pem : `${pem}\n`)).join('');
}

export interface SecretContext {
  /** The name the serving certificate must cover (SERVICE.NAMESPACE.svc). */
  host: string;
  renewBeforeMs: number;
  caOverlapMs: number;
  /** The CA bundle this replica serves with, if any (kept trusted when the Secret is gone). */
  serving?: string;
  /** The CA bundle this replica last saw in every webhook's caBundle. */
  published?: string;
  now: number;
}

/**
 * What to do about the Secret as read (`undefined`: there is none):
 * - `use`: serve what it holds;
 * - `create`: there is none: create one with a new CA and serving
 *   certificate, the CA bundle still trusting `trust` (the CA this replica
 *   serves with, when the Secret was deleted under it);
 * - `replace`: its CA is unusable (planCertificates' `new`): a new CA and
 *   serving certificate, still trusting `trust`;
 * - `add-ca`: a new CA first in the bundle and the previous first CA after
 *   it; `reissue` too when the serving certificate is unusable anyway;
 * - `reissue`: a new serving certificate from the first CA.
 */
export type SecretDecision =
  | { action: 'use' }
  | { action: 'create' | 'replace'; reason: string; trust: string[] }
  | { action: 'add-ca'; reason: string; reissue: boolean }
  | { action: 'reissue'; reason: string };

export function decideSecret(stored: Partial<StoredCertificates> | undefined, context: SecretContext): SecretDecision {
  const { host, now } = context;
  if (stored === undefined) return { action: 'create', reason: 'no Secret', trust: stillTrusted(context.serving, now) };
  const policy: RotationPolicy = {
    renewBeforeMs: context.renewBeforeMs,
    caOverlapMs: context.caOverlapMs,
    bundlePublished: stored.caCert !== undefined && context.published === stored.caCert,
  };
  const plan = planCertificates(stored, host, policy, now);
  switch (plan.action) {
    case 'use':
      return plan;
    case 'new':
      return { action: 'replace', reason: plan.reason, trust: stillTrusted(stored.caCert, now) };
    case 'reissue':
      return { action: 'reissue', reason: plan.reason };
    case 'add-ca': {
      // The serving certificate keeps serving under the old CA, now second
      // in the bundle and not yet published: unless it is unusable anyway.
      const oldCa = new X509Certificate(splitPem(stored.caCert!)[0]!);
      const reissue = servingProblem(stored, [oldCa], host, { ...policy, bundlePublished: false }, now) !== undefined;
      return { action: 'add-ca', reason: plan.reason, reissue };
    }
  }
}

/** A webhook's CEL matchCondition (admissionregistration.k8s.io/v1); the server's come from src/rules/matchConditions.ts. */
export interface MatchCondition {
  name: string;
  expression: string;
}

export interface ObservedWebhook {
  name: string;
  clientConfig?: { caBundle?: string };
  matchConditions?: readonly MatchCondition[];
}

export type JsonPatch = { op: 'test' | 'add'; path: string; value: string }[];

/**
 * The JSON Patch that puts `caBundle` (base64) into every webhook of a
 * configuration that lacks it, each `add` guarded by a `test` of that
 * webhook's name, so a concurrent edit of the list fails the patch instead of
 * landing on the wrong entry. Empty when every webhook has it already.
 */
export function caBundlePatch(webhooks: readonly ObservedWebhook[], caBundle: string): JsonPatch {
  return webhooks.flatMap((webhook, i) =>
    webhook.clientConfig?.caBundle === caBundle
      ? []
      : [
          { op: 'test' as const, path: `/webhooks/${i}/name`, value: webhook.name },
          { op: 'add' as const, path: `/webhooks/${i}/clientConfig/caBundle`, value: caBundle },
        ],
  );
}

/**
 * The named webhooks whose `matchConditions` differ from what the server's
 * settings generate (src/rules/matchConditions.ts): a chart rendered before
 * a config change, or an edit by hand. Only reported, never patched: the
 * chart's ValidatingAdmissionPolicy lets this ServiceAccount change nothing
 * but caBundle, since a condition of `false` turns a webhook off. A webhook
 * not in `wanted` (another name) is left alone.
 */
export function webhooksWithOtherConditions(webhooks: readonly ObservedWebhook[], wanted: ReadonlyMap<string, readonly MatchCondition[]>): string[] {
  return webhooks.flatMap((webhook) => {
    const conditions = wanted.get(webhook.name);
    return conditions && !isDeepStrictEqual(webhook.matchConditions ?? [], conditions) ? [webhook.name] : [];
  });
}
