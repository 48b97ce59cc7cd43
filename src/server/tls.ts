import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { unwatchFile, watchFile } from 'node:fs';
import type { SecureContextOptions } from 'node:tls';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** When set, clients must present a certificate signed by this CA. */
  clientCaFile?: string;
}

// TLS 1.2 at least; for 1.2, only forward-secret AEAD suites (TLS 1.3 suites
// are all of that kind already).
export const TLS_SETTINGS = {
  minVersion: 'TLSv1.2',
  ciphers: [
    'TLS_AES_128_GCM_SHA256',
    'TLS_AES_256_GCM_SHA384',
    'TLS_CHACHA20_POLY1305_SHA256',
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-CHACHA20-POLY1305',
  ].join(':'),
  honorCipherOrder: true,
} as const;

export interface LoadedTls {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
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

export function secureContextOptions(tls: LoadedTls): SecureContextOptions & { requestCert?: boolean; rejectUnauthorized?: boolean } {
  return {
    ...TLS_SETTINGS,
    cert: tls.cert,
    key: tls.key,
    // With a client CA, every client is asked for a certificate, but the
    // handshake does not fail without one: the admission routes refuse such
    // clients themselves (401), so the kubelet's HTTPS probes, which send no
    // certificate, still reach /healthz and /readyz.
    ...(tls.ca ? { ca: tls.ca, requestCert: true, rejectUnauthorized: false } : {}),
  };
}

/**
 * Reloads the certificate when its files change, as controller-runtime's
 * certwatcher does: files are polled by stat (Kubernetes swaps Secret volumes
 * through symlinks, which inotify-style watches miss), and the context is
 * swapped only when the bytes differ and the new pair loads.
 */
export class CertificateReloader {
  private current: LoadedTls;
  private stopped = false;
  private readonly listener = (): void => void this.reload();

  constructor(
    private readonly files: TlsFiles,
    initial: LoadedTls,
    private readonly apply: (tls: LoadedTls) => void,
    private readonly onError: (error: unknown) => void,
    private readonly intervalMs = 5_000,
  ) {
    this.current = initial;
  }

  start(): void {
    for (const file of this.watchedFiles()) watchFile(file, { interval: this.intervalMs, persistent: false }, this.listener);
  }

  async reload(): Promise<boolean> {
    if (this.stopped) return false;
    try {
      const next = await loadTls(this.files);
      const same =
        next.cert.equals(this.current.cert) &&
        next.key.equals(this.current.key) &&
        (next.ca === undefined ? this.current.ca === undefined : this.current.ca !== undefined && next.ca.equals(this.current.ca));
      if (same) return false;
      this.apply(next);
      this.current = next;
      return true;
    } catch (error) {
      // Half-written files during a swap: keep serving the old pair.
      this.onError(error);
      return false;
    }
  }

  stop(): void {
    this.stopped = true;
    for (const file of this.watchedFiles()) unwatchFile(file, this.listener);
  }

  private watchedFiles(): string[] {
    return [this.files.certFile, this.files.keyFile, ...(this.files.clientCaFile ? [this.files.clientCaFile] : [])];
  }
}
