// The certificate sources the server consumes: each mode ends in files that
// are loaded at start and passed on again when they change.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { certificateFilesIn, writeCertificates, type LoadedTls } from '../../../src/certificates/files.js';
import { generateCertificates } from '../../../src/certificates/generate.js';
import { fileCertificateSource, generatedCertificateSource, selfManagedCertificateSource } from '../../../src/certificates/source.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kga-source-'));
  dirs.push(dir);
  return dir;
}

describe('generatedCertificateSource', () => {
  it('generates into the folder once, then reuses what is there', async () => {
    const dir = await tempDir();
    const created: boolean[] = [];
    const first = generatedCertificateSource(dir, ['127.0.0.1'], { onReady: (files) => created.push(files.created) });
    const tls = await first.start();
    first.stop();
    const again = generatedCertificateSource(dir, ['127.0.0.1'], { onReady: (files) => created.push(files.created) });
    expect((await again.start()).cert.equals(tls.cert)).toBe(true);
    again.stop();
    expect(created).toEqual([true, false]);
    expect(first.certFile).toBe(certificateFilesIn(dir).certFile);
  });
});

describe('fileCertificateSource', () => {
  it('passes on a new pair when the files change, and an unloadable one to onError, keeping the current', async () => {
    const dir = await tempDir();
    await writeCertificates(dir, await generateCertificates(['127.0.0.1'], 3));
    const files = certificateFilesIn(dir);
    const source = fileCertificateSource(files, { pollMs: 50 });
    expect(() => source.watch(() => {}, () => {})).toThrow(/before start/);
    const initial = await source.start();
    const changes: LoadedTls[] = [];
    const errors: unknown[] = [];
    source.watch((tls) => changes.push(tls), (error) => errors.push(error));
    expect(await source.reload()).toBe(false);

    const next = await generateCertificates(['127.0.0.1'], 3);
    await writeCertificates(dir, next);
    expect(await source.reload()).toBe(true);
    expect(changes.map((c) => c.cert.toString())).toEqual([next.cert]);
    expect(changes[0]!.cert.equals(initial.cert)).toBe(false);

    await rm(files.keyFile);
    expect(await source.reload()).toBe(false);
    expect(errors).toHaveLength(1);
    source.stop();
  });

  it('loads the client CA with the pair when one is given', async () => {
    const dir = await tempDir();
    const bundle = await generateCertificates(['127.0.0.1'], 3);
    await writeCertificates(dir, bundle);
    const clientCaFile = join(dir, 'client-ca.crt');
    await writeFile(clientCaFile, bundle.caCert);
    const source = fileCertificateSource(certificateFilesIn(dir), { clientCaFile });
    expect((await source.start()).ca?.toString()).toBe(bundle.caCert);
    source.stop();
  });
});

describe('selfManagedCertificateSource', () => {
  it('serves the files the self-managed mode writes, and stops that mode with it', async () => {
    const dir = await tempDir();
    const bundle = await generateCertificates(['kga.ns.svc'], 3);
    let stopped = 0;
    const source = selfManagedCertificateSource({
      start: async () => {
        await writeCertificates(dir, bundle);
        return certificateFilesIn(dir);
      },
      stop: () => void stopped++,
    });
    expect((await source.start()).cert.toString()).toBe(bundle.cert);
    source.stop();
    expect(stopped).toBe(1);
  });
});
