import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { manifestClusterSource, type ClusterSource } from '../../src/cluster/clusterSource.js';
import { parseConfig } from '../../src/config/config.js';
import { ensureCertificates } from '../../src/certificates/files.js';
import { startWebhookServer, type RunningWebhookServer } from '../../src/cli/composition.js';

export interface InProcessWebhook {
  server: RunningWebhookServer;
  ca: string;
  certsDir: string;
  logLines: () => Record<string, unknown>[];
}

/** The real server on a random loopback port with fresh certificates, logs captured. */
export async function startInProcessWebhook(options: { manifests?: string[]; source?: ClusterSource; config?: unknown } = {}): Promise<InProcessWebhook> {
  const certsDir = await mkdtemp(join(tmpdir(), 'kga-certs-'));
  const certs = await ensureCertificates(certsDir, ['127.0.0.1', 'localhost']);
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      callback();
    },
  });
  const config = parseConfig({ ...(options.config as object), server: { port: 0, metricsPort: 0, ...(options.config as { server?: object })?.server } });
  const source = options.source ?? (await manifestClusterSource(options.manifests ?? []));
  const server = await startWebhookServer({
    config,
    source,
    logger: pino({ level: 'info' }, sink),
    tls: { certFile: certs.certFile, keyFile: certs.keyFile },
    certificatePollMs: 100,
  });
  const close = server.close.bind(server);
  server.close = async () => {
    await close();
    await rm(certsDir, { recursive: true, force: true });
  };
  return {
    server,
    ca: await readFile(certs.caFile, 'utf8'),
    certsDir,
    logLines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
