// The self-managed mode's decisions, pure: when to keep, when to add a new CA
// beside the old one (overlap), when to move the serving certificate to it,
// when to start over, what a missing Secret calls for, which webhooks need
// caBundle. The I/O side (Secret and caBundle) runs against a real
// kube-apiserver in test/e2e/chart-certificates.e2e.test.ts.
import { describe, expect, it } from 'vitest';
import { generateCa, issueServingCertificate, splitPem } from '../../../src/certificates/generate.js';
import {
  caBundlePatch,
  decideSecret,
  decodeSecret,
  encodeSecretData,
  webhooksWithOtherConditions,
  planCertificates,
  serviceHostNames,
  stillTrusted,
  type RotationPolicy,
  type SecretContext,
  type StoredCertificates,
} from '../../../src/certificates/selfManagedPlan.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const HOST = 'kga.ns.svc';
const policy = (overrides: Partial<RotationPolicy> = {}): RotationPolicy => ({ renewBeforeMs: 30 * DAY, caOverlapMs: HOUR, bundlePublished: true, ...overrides });

async function bundle(caDays = 365, leafDays = 365): Promise<StoredCertificates> {
  const ca = await generateCa(caDays);
  const leaf = await issueServingCertificate(ca, serviceHostNames('kga', 'ns'), leafDays);
  return { caCert: ca.cert, caKey: ca.key, ...leaf };
}

/** The state after `add-ca`: a new CA first (it signs from now on), the old one after it, the old CA's leaf still served. */
async function staged(): Promise<{ stored: StoredCertificates; old: StoredCertificates }> {
  const old = await bundle();
  const next = await generateCa(365);
  return { old, stored: { caCert: `${next.cert.trim()}\n${old.caCert.trim()}\n`, caKey: next.key, cert: old.cert, key: old.key } };
}

describe('planCertificates', () => {
  it('uses a fresh 1-year CA and its serving certificate', async () => {
    expect(planCertificates(await bundle(), HOST, policy(), Date.now())).toEqual({ action: 'use' });
  });

  it('adds a new CA when the CA has less than a third of its life left, not before', async () => {
    const stored = await bundle();
    expect(planCertificates(stored, HOST, policy(), Date.now() + 240 * DAY)).toEqual({ action: 'use' });
    expect(planCertificates(stored, HOST, policy(), Date.now() + 250 * DAY)).toMatchObject({ action: 'add-ca', reason: expect.stringContaining('a third of its life') });
  });

  it('starts over when the CA expires too soon for an overlap, or is missing or does not match its key', async () => {
    const stored = await bundle();
    expect(planCertificates(stored, HOST, policy(), Date.now() + 350 * DAY)).toMatchObject({ action: 'new', reason: expect.stringContaining('the CA expires') });
    expect(planCertificates({ ...stored, caCert: undefined }, HOST, policy(), Date.now())).toMatchObject({ action: 'new', reason: 'no CA' });
    const other = await bundle();
    expect(planCertificates({ ...stored, caKey: other.caKey }, HOST, policy(), Date.now())).toMatchObject({ action: 'new', reason: 'the CA key does not match the CA' });
  });

  it('keeps serving the old CA\'s certificate after add-ca until the new CA is published and old enough, then moves it', async () => {
    const { stored } = await staged();
    const now = Date.now();
    expect(planCertificates(stored, HOST, policy({ bundlePublished: false }), now + 2 * HOUR)).toEqual({ action: 'use' });
    expect(planCertificates(stored, HOST, policy({ bundlePublished: true }), now + HOUR / 2)).toEqual({ action: 'use' });
    expect(planCertificates(stored, HOST, policy({ bundlePublished: true }), now + 2 * HOUR)).toMatchObject({ action: 'reissue', reason: expect.stringContaining('newer CA') });
  });

  it('reissues at once a serving certificate that is unusable, even mid-rotation', async () => {
    const stored = await bundle();
    const foreign = await bundle();
    expect(planCertificates({ ...stored, cert: foreign.cert, key: foreign.key }, HOST, policy(), Date.now())).toMatchObject({ action: 'reissue', reason: expect.stringContaining('not signed by a CA of the bundle') });
    expect(planCertificates({ ...stored, key: foreign.key }, HOST, policy(), Date.now())).toMatchObject({ action: 'reissue', reason: expect.stringContaining('key does not match') });
    expect(planCertificates(stored, 'other.ns.svc', policy(), Date.now())).toMatchObject({ action: 'reissue', reason: expect.stringContaining('does not cover') });
    const expiring = await bundle(365, 10);
    expect(planCertificates(expiring, HOST, policy(), Date.now())).toMatchObject({ action: 'reissue', reason: expect.stringContaining('expires') });
    const { stored: mid } = await staged();
    const gone = planCertificates({ ...mid, cert: undefined }, HOST, policy({ bundlePublished: false }), Date.now());
    expect(gone).toMatchObject({ action: 'reissue', reason: 'no serving certificate' });
  });
});

describe('decideSecret', () => {
  const context = (overrides: Partial<SecretContext> = {}): SecretContext => ({ host: HOST, renewBeforeMs: 30 * DAY, caOverlapMs: HOUR, now: Date.now(), ...overrides });

  it('creates a missing Secret, still trusting the CA this replica serves with while it is valid', async () => {
    expect(decideSecret(undefined, context())).toEqual({ action: 'create', reason: 'no Secret', trust: [] });
    const serving = await bundle(10);
    expect(decideSecret(undefined, context({ serving: serving.caCert }))).toEqual({ action: 'create', reason: 'no Secret', trust: splitPem(serving.caCert) });
    expect(decideSecret(undefined, context({ serving: serving.caCert, now: Date.now() + 11 * DAY }))).toMatchObject({ action: 'create', trust: [] });
  });

  it('uses a usable Secret as it is', async () => {
    expect(decideSecret(await bundle(), context())).toEqual({ action: 'use' });
  });

  it('replaces an unusable CA, still trusting the stored one while it is valid', async () => {
    const stored = await bundle();
    const other = await bundle();
    expect(decideSecret({ ...stored, caKey: other.caKey }, context())).toEqual({ action: 'replace', reason: 'the CA key does not match the CA', trust: splitPem(stored.caCert) });
    expect(decideSecret({ cert: stored.cert, key: stored.key }, context())).toEqual({ action: 'replace', reason: 'no CA', trust: [] });
  });

  it('adds a CA keeping the serving certificate, unless that certificate is unusable anyway', async () => {
    const later = Date.now() + 250 * DAY;
    expect(decideSecret(await bundle(), context({ now: later }))).toMatchObject({ action: 'add-ca', reissue: false });
    // 260 days: at day 250 it has 10 days left, under renewBeforeMs.
    expect(decideSecret(await bundle(365, 260), context({ now: later }))).toMatchObject({ action: 'add-ca', reissue: true });
    const stored = await bundle();
    const foreign = await bundle();
    expect(decideSecret({ ...stored, cert: foreign.cert, key: foreign.key }, context({ now: later }))).toMatchObject({ action: 'add-ca', reissue: true });
  });

  it('moves the serving certificate to a new CA only once this replica has seen that bundle in every caBundle', async () => {
    const { stored } = await staged();
    const now = Date.now() + 2 * HOUR;
    expect(decideSecret(stored, context({ now }))).toEqual({ action: 'use' });
    expect(decideSecret(stored, context({ now, published: 'another bundle' }))).toEqual({ action: 'use' });
    expect(decideSecret(stored, context({ now, published: stored.caCert }))).toMatchObject({ action: 'reissue', reason: expect.stringContaining('newer CA') });
  });
});

describe('stillTrusted', () => {
  it('keeps the first CA of a bundle while it is valid, and nothing unreadable', async () => {
    const { stored, old } = await staged();
    expect(stillTrusted(stored.caCert, Date.now())).toEqual([splitPem(stored.caCert)[0]]);
    expect(stillTrusted(old.caCert, Date.now() + 400 * DAY)).toEqual([]);
    expect(stillTrusted(undefined, Date.now())).toEqual([]);
    expect(stillTrusted('-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n', Date.now())).toEqual([]);
  });
});

describe('caBundlePatch', () => {
  it('adds caBundle to each webhook without it, each add guarded by a test of that webhook\'s name', () => {
    const webhooks = [{ name: 'a.x', clientConfig: { caBundle: 'CA' } }, { name: 'b.x', clientConfig: {} }, { name: 'c.x', clientConfig: { caBundle: 'OLD' } }];
    expect(caBundlePatch(webhooks, 'CA')).toEqual([
      { op: 'test', path: '/webhooks/1/name', value: 'b.x' },
      { op: 'add', path: '/webhooks/1/clientConfig/caBundle', value: 'CA' },
      { op: 'test', path: '/webhooks/2/name', value: 'c.x' },
      { op: 'add', path: '/webhooks/2/clientConfig/caBundle', value: 'CA' },
    ]);
  });

  it('is empty when every webhook has it (nothing to patch)', () => {
    expect(caBundlePatch([{ name: 'a.x', clientConfig: { caBundle: 'CA' } }], 'CA')).toEqual([]);
    expect(caBundlePatch([], 'CA')).toEqual([]);
  });
});

describe('the Secret as stored', () => {
  it('reads back what it writes, and leaves out fields that are missing or not strings', async () => {
    const stored = await bundle();
    expect(decodeSecret({ data: encodeSecretData(stored) })).toEqual(stored);
    expect(decodeSecret({ data: { 'ca.crt': Buffer.from('x').toString('base64'), 'tls.crt': 42 } })).toEqual({ caCert: 'x' });
    expect(decodeSecret(undefined)).toEqual({});
    expect(decodeSecret({ data: null })).toEqual({});
  });

  it('names the Service as the API server may call it', () => {
    expect(serviceHostNames('kga', 'ns')).toEqual(['kga.ns.svc', 'kga.ns.svc.cluster.local', 'kga.ns', 'kga']);
  });
});

describe('webhooksWithOtherConditions', () => {
  const wanted = new Map([
    ['a.x', [{ name: 'one', expression: 'true' }]],
    ['b.x', [{ name: 'two', expression: 'false' }]],
  ]);

  it('names each webhook of `wanted` that lacks the generated conditions or has others; other webhooks are not its business', () => {
    const webhooks = [
      { name: 'a.x', matchConditions: [{ name: 'one', expression: 'true' }] },
      { name: 'b.x' },
      { name: 'other.x', matchConditions: [{ name: 'mine', expression: 'true' }] },
    ];
    expect(webhooksWithOtherConditions(webhooks, wanted)).toEqual(['b.x']);
    expect(webhooksWithOtherConditions([{ name: 'a.x', matchConditions: [{ name: 'one', expression: 'object != null' }] }], wanted)).toEqual(['a.x']);
  });

  it('is empty when every named webhook has them', () => {
    expect(webhooksWithOtherConditions([{ name: 'a.x', matchConditions: [{ name: 'one', expression: 'true' }] }, { name: 'b.x', matchConditions: [{ name: 'two', expression: 'false' }] }], wanted)).toEqual([]);
  });
});
