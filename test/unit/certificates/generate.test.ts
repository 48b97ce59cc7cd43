// Certificate generation (selfsigned, in one place): what serve's generated
// mode, `certs` and the self-managed mode hand to the API server.
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateCa, generateCertificates, issueServingCertificate, splitPem } from '../../../src/certificates/generate.js';

const DAY = 86_400_000;

describe('generateCertificates', () => {
  it('makes a CA and a serving certificate it signed, for DNS names and IP addresses', async () => {
    const bundle = await generateCertificates(['kga.ns.svc', '127.0.0.1', '::1'], 30);
    const ca = new X509Certificate(bundle.caCert);
    const leaf = new X509Certificate(bundle.cert);
    expect(ca.ca).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.checkIssued(ca) && leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.checkHost('kga.ns.svc')).toBeDefined();
    expect(leaf.checkIP('127.0.0.1')).toBeDefined();
    expect(leaf.checkIP('::1')).toBeDefined();
    expect(leaf.checkHost('other.ns.svc')).toBeUndefined();
    expect(leaf.checkPrivateKey((await import('node:crypto')).createPrivateKey(bundle.key))).toBe(true);
    expect(Date.parse(leaf.validTo) - Date.now()).toBeGreaterThan(29 * DAY);
    expect(Date.parse(leaf.validTo) - Date.now()).toBeLessThanOrEqual(30 * DAY);
  });
});

describe('issueServingCertificate', () => {
  it('signs with the first CA of a bundle and never outlives it', async () => {
    const first = await generateCa(10);
    const second = await generateCa(365);
    const leaf = await issueServingCertificate({ cert: `${first.cert}${second.cert}`, key: first.key }, ['kga.ns.svc'], 365);
    const cert = new X509Certificate(leaf.cert);
    expect(cert.verify(new X509Certificate(first.cert).publicKey)).toBe(true);
    expect(Date.parse(cert.validTo)).toBeLessThanOrEqual(Date.parse(new X509Certificate(first.cert).validTo));
  });
});

describe('splitPem', () => {
  it('splits a bundle into its certificates, each ending in a newline', async () => {
    const a = await generateCa(1);
    const b = await generateCa(1);
    const parts = splitPem(`${a.cert.trim()}\n${b.cert.trim()}`);
    expect(parts).toEqual([`${a.cert.trim()}\n`, `${b.cert.trim()}\n`]);
    expect(splitPem('')).toEqual([]);
  });
});
