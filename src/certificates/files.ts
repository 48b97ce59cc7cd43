import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { generateCertificates, type CertificateBundle } from './generate.js';

/** The file names in a certificates folder, as in a kubernetes.io/tls Secret. */
export const CERT_FILES = { caCert: 'ca.crt', cert: 'tls.crt', key: 'tls.key' } as const;

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** When set, clients must present a certificate signed by this CA. */
  clientCaFile?: string;
}

/** The serving pair (and client CA) as read from their files. */
export interface LoadedTls {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
}

export interface CertificateFiles {
  certFile: string;
  keyFile: string;
  caFile: string;
}

/** tls.crt, tls.key and ca.crt in `dir`. */
export function certificateFilesIn(dir: string): CertificateFiles {
  return { certFile: join(dir, CERT_FILES.cert), keyFile: join(dir, CERT_FILES.key), caFile: join(dir, CERT_FILES.caCert) };
}

export async function loadTls(files: TlsFiles): Promise<LoadedTls> {
  const [cert, key, ca] = await Promise.all([
    readFile(files.certFile),
    readFile(files.keyFile),
    files.clientCaFile ? readFile(files.clientCaFile) : Promise.resolve(undefined),
  ]);
  return ca ? { cert, key, ca } : { cert, key };
}

/** notAfter of the first certificate in a PEM bundle, in Unix seconds. */
export function certificateExpirySeconds(certPem: Buffer): number {
  return new X509Certificate(certPem).validToDate.getTime() / 1000;
}

/** ca.crt, ca.key, tls.crt and tls.key in `dir` (the keys readable by the owner only). */
export async function writeCertificates(dir: string, bundle: CertificateBundle): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, CERT_FILES.caCert), bundle.caCert);
  await writeFile(join(dir, 'ca.key'), bundle.caKey, { mode: 0o600 });
  await writeFile(join(dir, CERT_FILES.cert), bundle.cert);
  await writeFile(join(dir, CERT_FILES.key), bundle.key, { mode: 0o600 });
}

/** Replaces `file` in one step (a reader sees the old content or the new, never half). */
export async function writeAtomically(file: string, content: string, mode: number): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, content, { mode });
  await rename(tmp, file);
}

/**
 * Reuses the certificates in `dir` while they cover `hosts` and are valid for
 * another day; otherwise makes new ones. Returns the file paths.
 */
export async function ensureCertificates(dir: string, hosts: readonly string[]): Promise<CertificateFiles & { created: boolean }> {
  const paths = certificateFilesIn(dir);
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
