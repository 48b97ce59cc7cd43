import { ensureCertificates, loadTls, type CertificateFiles, type LoadedTls, type TlsFiles } from './files.js';
import { CertificateReloader } from './reloader.js';

/**
 * Where the server's certificate comes from, one kind per mode: files given
 * (`--tls-cert`/`--tls-key`, a mounted Secret), generated into a folder, or
 * self-managed in a Secret. Each ends in files that are polled for changes,
 * so a rotation reaches the running server without a restart.
 */
export interface CertificateSource {
  /** Makes or fetches the certificate as the mode does; the pair to serve first. */
  start(): Promise<LoadedTls>;
  /**
   * After start: each later pair (a rotation, a renewal) goes to `onChange`;
   * one that cannot be loaded, or that `onChange` refuses by throwing, goes
   * to `onError` and the current pair stays.
   */
  watch(onChange: (tls: LoadedTls) => void, onError: (error: unknown) => void): void;
  /** Reads the files again now; true when a new pair was passed on. */
  reload(): Promise<boolean>;
  stop(): void;
  /** The certificate file served (for logs). */
  readonly certFile: string | undefined;
}

/** The files behind a source, made ready by its mode, then polled. */
class PolledFilesSource implements CertificateSource {
  private files: TlsFiles | undefined;
  private current: LoadedTls | undefined;
  private reloader: CertificateReloader | undefined;

  constructor(
    private readonly prepare: () => Promise<TlsFiles>,
    private readonly pollMs: number | undefined,
    private readonly release: () => void = () => {},
  ) {}

  get certFile(): string | undefined {
    return this.files?.certFile;
  }

  async start(): Promise<LoadedTls> {
    this.files = await this.prepare();
    this.current = await loadTls(this.files);
    return this.current;
  }

  watch(onChange: (tls: LoadedTls) => void, onError: (error: unknown) => void): void {
    if (!this.files || !this.current) throw new Error('certificate source: watch() before start()');
    this.reloader = new CertificateReloader(this.files, this.current, onChange, onError, this.pollMs);
    this.reloader.start();
  }

  async reload(): Promise<boolean> {
    return this.reloader ? this.reloader.reload() : false;
  }

  stop(): void {
    this.reloader?.stop();
    this.release();
  }
}

export interface SourceOptions {
  /** When set, clients must present a certificate signed by this CA (reloaded as well). */
  clientCaFile?: string;
  /** How often the files are polled for a rotation (default 5 s). */
  pollMs?: number;
}

/** Files someone else writes and rotates (`--tls-cert`/`--tls-key`, cert-manager's Secret volume). */
export function fileCertificateSource(files: { certFile: string; keyFile: string }, options: SourceOptions = {}): CertificateSource {
  const tls: TlsFiles = { certFile: files.certFile, keyFile: files.keyFile, ...(options.clientCaFile ? { clientCaFile: options.clientCaFile } : {}) };
  return new PolledFilesSource(async () => tls, options.pollMs);
}

/**
 * A CA and serving certificate for `hosts` generated into `dir`, reused while
 * they cover the hosts and have a day left (ensureCertificates).
 */
export function generatedCertificateSource(
  dir: string,
  hosts: readonly string[],
  options: SourceOptions & { onReady?: (files: CertificateFiles & { created: boolean }) => void } = {},
): CertificateSource {
  return new PolledFilesSource(async () => {
    const generated = await ensureCertificates(dir, hosts);
    options.onReady?.(generated);
    return { certFile: generated.certFile, keyFile: generated.keyFile, ...(options.clientCaFile ? { clientCaFile: options.clientCaFile } : {}) };
  }, options.pollMs);
}

/** What the self-managed mode offers a source: files kept current from the Secret, until stopped. */
export interface ManagedCertificateFiles {
  start(): Promise<CertificateFiles>;
  stop(): void;
}

/** The self-managed mode (selfManaged.ts): the Secret's certificates written to files, which are polled. */
export function selfManagedCertificateSource(managed: ManagedCertificateFiles, options: SourceOptions = {}): CertificateSource {
  return new PolledFilesSource(
    async () => {
      const files = await managed.start();
      return { certFile: files.certFile, keyFile: files.keyFile, ...(options.clientCaFile ? { clientCaFile: options.clientCaFile } : {}) };
    },
    options.pollMs,
    () => managed.stop(),
  );
}
