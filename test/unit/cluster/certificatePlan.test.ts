// The self-managed rotation decision, pure: when to keep, when to add a new CA
// beside the old one (overlap), when to move the serving certificate to it,
// when to start over. The Secret and caBundle side runs against a real
// kube-apiserver in test/e2e/chart-certificates.e2e.test.ts.
import { describe, expect, it } from 'vitest';
import { issueServingCertificate, planCertificates, serviceHostNames, type RotationPolicy, type StoredCertificates } from '../../../src/cluster/selfManagedCertificates.js';
import { generateCertificates } from '../../../src/certificates/certificates.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const HOST = 'kga.ns.svc';
const policy = (overrides: Partial<RotationPolicy> = {}): RotationPolicy => ({ renewBeforeMs: 30 * DAY, caOverlapMs: HOUR, bundlePublished: true, ...overrides });

async function bundle(caDays = 365, leafDays = 365): Promise<StoredCertificates> {
  const { caCert, caKey } = await generateCertificates([HOST], caDays);
  const leaf = await issueServingCertificate({ cert: caCert, key: caKey }, serviceHostNames('kga', 'ns'), leafDays);
  return { caCert, caKey, ...leaf };
}

/** The state after `add-ca`: a new CA first (it signs from now on), the old one after it, the old CA's leaf still served. */
async function staged(): Promise<{ stored: StoredCertificates; old: StoredCertificates }> {
  const old = await bundle();
  const next = await generateCertificates([HOST], 365);
  return { old, stored: { caCert: `${next.caCert.trim()}\n${old.caCert.trim()}\n`, caKey: next.caKey, cert: old.cert, key: old.key } };
}

describe('planCertificates', () => {
  it('uses a fresh 1-year CA and its serving certificate', async () => {
    expect(planCertificates(await bundle(), HOST, policy())).toEqual({ action: 'use' });
  });

  it('adds a new CA when the CA has less than a third of its life left, not before', async () => {
    const stored = await bundle();
    expect(planCertificates(stored, HOST, policy(), Date.now() + 240 * DAY)).toEqual({ action: 'use' });
    expect(planCertificates(stored, HOST, policy(), Date.now() + 250 * DAY)).toMatchObject({ action: 'add-ca', reason: expect.stringContaining('a third of its life') });
  });

  it('starts over when the CA expires too soon for an overlap, or is missing or does not match its key', async () => {
    const stored = await bundle();
    expect(planCertificates(stored, HOST, policy(), Date.now() + 350 * DAY)).toMatchObject({ action: 'new', reason: expect.stringContaining('the CA expires') });
    expect(planCertificates({ ...stored, caCert: undefined }, HOST, policy())).toMatchObject({ action: 'new', reason: 'no CA' });
    const other = await bundle();
    expect(planCertificates({ ...stored, caKey: other.caKey }, HOST, policy())).toMatchObject({ action: 'new', reason: 'the CA key does not match the CA' });
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
    expect(planCertificates({ ...stored, cert: foreign.cert, key: foreign.key }, HOST, policy())).toMatchObject({ action: 'reissue', reason: expect.stringContaining('not signed by a CA of the bundle') });
    expect(planCertificates({ ...stored, key: foreign.key }, HOST, policy())).toMatchObject({ action: 'reissue', reason: expect.stringContaining('key does not match') });
    expect(planCertificates(stored, 'other.ns.svc', policy())).toMatchObject({ action: 'reissue', reason: expect.stringContaining('does not cover') });
    const expiring = await bundle(365, 10);
    expect(planCertificates(expiring, HOST, policy())).toMatchObject({ action: 'reissue', reason: expect.stringContaining('expires') });
    const { stored: mid } = await staged();
    const gone = planCertificates({ ...mid, cert: undefined }, HOST, policy({ bundlePublished: false }));
    expect(gone).toMatchObject({ action: 'reissue', reason: 'no serving certificate' });
  });
});
