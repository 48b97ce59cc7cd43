import { unwatchFile, watchFile } from 'node:fs';
import { loadTls, type LoadedTls, type TlsFiles } from './files.js';

/**
 * Reloads the certificate when its files change, as controller-runtime's
 * certwatcher does: files are polled by stat (Kubernetes swaps Secret volumes
 * through symlinks, which inotify-style watches miss), and the new pair is
 * passed on only when the bytes differ and it loads.
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
