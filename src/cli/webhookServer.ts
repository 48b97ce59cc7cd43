import type { Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { AdmissionEngine } from '../admission/admissionEngine.js';
import type { ClusterSource } from '../cluster/clusterSource.js';
import { ruleSettings, type Config } from '../config/config.js';
import type { RuleSettings } from '../rules/settings.js';
import { buildRuleSet, handledKinds } from '../rules/ruleSet.js';
import type { AdmissionRequest, Verdict } from '../rules/types.js';
import { buildApp } from '../server/app.js';
import { AdmissionMetrics, createMetricsServer } from '../server/metrics.js';
import { CertificateReloader, certificateExpirySeconds, loadTls, secureContextOptions, type TlsFiles } from '../server/tls.js';

export interface WebhookServerOptions {
  config: Config;
  /** The rules' settings; from the config and its profile when not given. */
  settings?: RuleSettings;
  source: ClusterSource;
  tls: TlsFiles;
  logger: Logger;
  /** How often the certificate files are polled for a rotation. */
  certificatePollMs?: number;
  metrics?: AdmissionMetrics;
  /** Told every decided request and its verdict, after the decision (e.g. Warning events). */
  onDecided?: (request: AdmissionRequest, verdict: Verdict) => void;
}

export interface RunningWebhookServer {
  app: FastifyInstance;
  metrics: AdmissionMetrics;
  metricsServer: Server;
  url: string;
  metricsUrl: string;
  certificates: CertificateReloader;
  close(): Promise<void>;
}

function urlOf(scheme: string, address: AddressInfo): string {
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${scheme}://${host}:${address.port}`;
}

/** Wires config, cluster source, TLS, the app and the metrics port together, and listens. */
export async function startWebhookServer(options: WebhookServerOptions): Promise<RunningWebhookServer> {
  const { config, source, logger } = options;
  const initialTls = await loadTls(options.tls);
  const settings = options.settings ?? ruleSettings(config);
  const metrics = options.metrics ?? new AdmissionMetrics({ kinds: handledKinds(settings).map((k) => k.kind) });
  metrics.certificateExpiry.set(certificateExpirySeconds(initialTls.cert));
  const engine = new AdmissionEngine({
    ruleSet: buildRuleSet(settings),
    view: source.view,
    isReady: () => source.notReadyReason() === undefined,
    ...(source.reconsider ? { reconsider: source.reconsider.bind(source) } : {}),
    ...(options.onDecided ? { onDecided: options.onDecided } : {}),
    onConfirmation: (outcome, error) => {
      metrics.denialConfirmations.inc({ outcome });
      if (error) logger.warn({ err: error }, 'could not re-read ReferenceGrants before denying; denying on the cached view');
    },
  });
  let listening = false;
  const app = buildApp({
    engine,
    logger,
    metrics,
    tls: initialTls,
    bodyLimitBytes: config.server.bodyLimitBytes,
    keepAliveTimeoutMs: config.server.keepAliveTimeoutMs,
    handshakeTimeoutMs: config.server.handshakeTimeoutMs,
    headersTimeoutMs: config.server.headersTimeoutMs,
    requestTimeoutMs: config.server.requestTimeoutMs,
    maxConnections: config.server.maxConnections,
    notReadyReason: () => (listening ? source.notReadyReason() : 'not listening yet'),
  });
  metrics.trackReadiness(() => listening && source.notReadyReason() === undefined);
  const certificates = new CertificateReloader(
    options.tls,
    initialTls,
    (tls) => {
      (app.server as unknown as HttpsServer).setSecureContext(secureContextOptions(tls));
      metrics.certificateExpiry.set(certificateExpirySeconds(tls.cert));
      logger.info({ certFile: options.tls.certFile }, 'serving certificate reloaded');
    },
    (error) => logger.warn({ err: error }, 'could not reload the serving certificate; keeping the current one'),
    options.certificatePollMs,
  );
  app.addHook('onClose', async () => {
    certificates.stop();
    await source.stop();
  });

  await source.start();
  await app.listen({ host: config.server.host, port: config.server.port });
  listening = true;
  certificates.start();

  const metricsServer = createMetricsServer(metrics.registry);
  await new Promise<void>((resolve, reject) => {
    metricsServer.once('error', reject);
    metricsServer.listen(config.server.metricsPort, config.server.metricsHost ?? config.server.host, () => resolve());
  });

  const url = urlOf('https', app.server.address() as AddressInfo);
  const metricsUrl = urlOf('http', metricsServer.address() as AddressInfo);
  return {
    app,
    metrics,
    metricsServer,
    url,
    metricsUrl,
    certificates,
    async close() {
      await app.close();
      await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
    },
  };
}
