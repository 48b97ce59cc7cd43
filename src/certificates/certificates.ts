import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';

export interface CertificateBundle {
  caCert: string;
  caKey: string;
  cert: string;
  key: string;
}

export const CERT_FILES = { caCert: 'ca.crt', cert: 'tls.crt', key: 'tls.key' } as const;

/**
 * A private CA and a serving certificate it signed for `hosts` (DNS names and
 * IP addresses), what the API server needs in a webhook's caBundle.
 */
export async function generateCertificates(hosts: readonly string[], days = 365): Promise<CertificateBundle> {
  // Loaded only when certificates are made, not on every start.
  const { generate } = await import('selfsigned');
  const now = new Date();
  const notAfterDate = new Date(now.getTime() + days * 86_400_000);
  const ca = await generate([{ name: 'commonName', value: 'kgateway-admission-ca' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate: now,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const altNames = hosts.map((host) => (isIP(host) ? { type: 7 as const, ip: host } : { type: 2 as const, value: host }));
  const serving = await generate([{ name: 'commonName', value: hosts[0] ?? 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate: now,
    notAfterDate,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
  return { caCert: ca.cert, caKey: ca.private, cert: serving.cert, key: serving.private };
}

export async function writeCertificates(dir: string, bundle: CertificateBundle): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, CERT_FILES.caCert), bundle.caCert);
  await writeFile(join(dir, 'ca.key'), bundle.caKey, { mode: 0o600 });
  await writeFile(join(dir, CERT_FILES.cert), bundle.cert);
  await writeFile(join(dir, CERT_FILES.key), bundle.key, { mode: 0o600 });
}

/**
 * Reuses the certificates in `dir` while they cover `hosts` and are valid for
 * another day; otherwise makes new ones. Returns the file paths.
 */
export async function ensureCertificates(
  dir: string,
  hosts: readonly string[],
): Promise<{ certFile: string; keyFile: string; caFile: string; created: boolean }> {
  const paths = { certFile: join(dir, CERT_FILES.cert), keyFile: join(dir, CERT_FILES.key), caFile: join(dir, CERT_FILES.caCert) };
  try {
    const existing = new X509Certificate(await readFile(paths.certFile));
    await readFile(paths.keyFile);
    const coversHosts = hosts.every((host) => (isIP(host) ? existing.checkIP(host) : existing.checkHost(host)) !== undefined);
    if (coversHosts && new Date(existing.validTo).getTime() > Date.now() + 86_400_000) return { ...paths, created: false };
  } catch {
    // Missing or unreadable: make new ones below.
  }
  await writeCertificates(dir, await generateCertificates(hosts));
  return { ...paths, created: true };
}
