import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';

/** A private CA and a serving certificate it signed, in PEM. `caCert` may be a bundle: the signing CA first. */
export interface CertificateBundle {
  caCert: string;
  caKey: string;
  cert: string;
  key: string;
}

const DAY_MS = 86_400_000;

/** Splits a PEM bundle into its certificates. */
export function splitPem(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((c) => `${c}\n`) ?? [];
}

/** A new private CA (EC P-256, SHA-256), valid `days` from now. */
export async function generateCa(days: number): Promise<{ cert: string; key: string }> {
  // Loaded only when certificates are made, not on every start.
  const { generate } = await import('selfsigned');
  const now = new Date();
  const ca = await generate([{ name: 'commonName', value: 'kgateway-admission-ca' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate: now,
    notAfterDate: new Date(now.getTime() + days * DAY_MS),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  return { cert: ca.cert, key: ca.private };
}

/**
 * A serving certificate for `hosts` (DNS names and IP addresses) signed by
 * the first CA of `ca.cert`, valid `days` but never past that CA.
 */
export async function issueServingCertificate(ca: { cert: string; key: string }, hosts: readonly string[], days: number): Promise<{ cert: string; key: string }> {
  const { generate } = await import('selfsigned');
  const signer = splitPem(ca.cert)[0] ?? ca.cert;
  const now = new Date();
  const notAfterDate = new Date(Math.min(now.getTime() + days * DAY_MS, Date.parse(new X509Certificate(signer).validTo)));
  const altNames = hosts.map((host) => (isIP(host) ? { type: 7 as const, ip: host } : { type: 2 as const, value: host }));
  const serving = await generate([{ name: 'commonName', value: hosts[0] ?? 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate: now,
    notAfterDate,
    ca: { key: ca.key, cert: signer },
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
  return { cert: serving.cert, key: serving.private };
}

/**
 * A private CA and a serving certificate it signed for `hosts`, what the API
 * server needs in a webhook's caBundle.
 */
export async function generateCertificates(hosts: readonly string[], days = 365): Promise<CertificateBundle> {
  const ca = await generateCa(days);
  const serving = await issueServingCertificate(ca, hosts, days);
  return { caCert: ca.cert, caKey: ca.key, ...serving };
}
