import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { AdmissionEngine } from '../admission/admissionEngine.js';
import { certificateExpirySeconds } from '../certificates/files.js';
import type { CertificateSource } from '../certificates/source.js';
import { buildApp } from './app.js';
import { connectionsCheckingInterval, limitSidePortConnections } from './connections.js';
import { healthHandler } from './healthRoutes.js';
import { metricsHandler, type AdmissionMetrics } from './metrics.js';
import { secureContextOptions, TLS_SETTINGS } from './tls.js';
import type { LoadedTls } from '../certificates/files.js';
import type { ServerSettings } from '../config/serverSettings.js';

export interface WebhookServerOptions {
  engine: AdmissionEngine;
  certificates: CertificateSource;
  settings: ServerSettings;
  logger: Logger;
  /** Where the one line per decision goes, when not to `logger`. */
  decisionLogger?: Logger;
  metrics: AdmissionMetrics;
  /** Why decisions cannot be trusted yet (the cluster source's reason), undefined once they can. */
  notReadyReason: () => string | undefined;
  /** Run once the certificate is loaded, before the port opens (the cluster source's first sync). */
  beforeListening?: () => Promise<void>;
}

export interface RunningWebhookServer {
  app: FastifyInstance;
  metrics: AdmissionMetrics;
  /** Plain HTTP, or HTTPS with server.metricsTls. */
  metricsServer: Server | HttpsServer;
  /** GET /healthz and /readyz over plain HTTP, when server.healthPort is set. */
  healthServer: Server | undefined;
  url: string;
  metricsUrl: string;
  healthUrl: string | undefined;
  certificates: CertificateSource;
  close(): Promise<void>;
}

/** The serving pair for a port that asks no client certificate (metrics). */
const serverOnlyTls = (tls: LoadedTls) => ({ ...TLS_SETTINGS, cert: tls.cert, key: tls.key });

/**
 * A server for the health or metrics port, with the admission port's
 * timeouts and connection caps (and, with `tls`, its handshake timeout).
 */
function sidePortServer(handler: (req: IncomingMessage, res: ServerResponse) => void, settings: ServerSettings, tls?: LoadedTls): Server | HttpsServer {
  const checking = { connectionsCheckingInterval: connectionsCheckingInterval(settings.headersTimeoutMs) };
  const server = tls ? createHttpsServer({ ...serverOnlyTls(tls), ...checking, handshakeTimeout: settings.handshakeTimeoutMs }, handler) : createHttpServer(checking, handler);
  limitSidePortConnections(server, settings);
  return server;
}

/** Resolves once `server` listens, rejects if it cannot. */
function listen(server: Server | HttpsServer, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Stops `server` at once: probes and scrapes are not drained. */
function closeNow(server: Server | HttpsServer): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function urlOf(scheme: string, address: AddressInfo): string {
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${scheme}://${host}:${address.port}`;
}

/**
 * The HTTPS webhook and the plain-HTTP metrics port, listening: serves with
 * the certificate source's pair and swaps in each new one without a restart.
 */
export async function startServer(options: WebhookServerOptions): Promise<RunningWebhookServer> {
  const { certificates, logger, metrics, settings } = options;
  const initialTls = await certificates.start();
  metrics.certificateExpiry.set(certificateExpirySeconds(initialTls.cert));
  let listening = false;
  const readiness = () => (listening ? options.notReadyReason() : 'not listening yet');
  const app = buildApp({
    engine: options.engine,
    logger,
    ...(options.decisionLogger ? { decisionLogger: options.decisionLogger } : {}),
    metrics,
    tls: initialTls,
    settings,
    notReadyReason: readiness,
  });
  metrics.trackReadiness(() => listening && options.notReadyReason() === undefined);
  app.addHook('onClose', async () => {
    certificates.stop();
  });

  try {
    await options.beforeListening?.();
    await app.listen({ host: settings.host, port: settings.port });
  } catch (error) {
    certificates.stop();
    throw error;
  }
  listening = true;
  const metricsServer = sidePortServer(metricsHandler(metrics.registry), settings, settings.metricsTls ? initialTls : undefined);
  await listen(metricsServer, settings.metricsPort, settings.metricsHost ?? settings.host);
  // The kubelet's probes on a port of their own: filling the admission
  // port's connection slots does not fail them, and they need no TLS.
  let healthServer: Server | undefined;
  if (settings.healthPort !== undefined) {
    healthServer = sidePortServer(healthHandler({ notReadyReason: readiness }), settings) as Server;
    await listen(healthServer, settings.healthPort, settings.metricsHost ?? settings.host);
  }

  certificates.watch(
    (tls) => {
      (app.server as unknown as HttpsServer).setSecureContext(secureContextOptions(tls));
      if (settings.metricsTls) (metricsServer as HttpsServer).setSecureContext(serverOnlyTls(tls));
      metrics.certificateExpiry.set(certificateExpirySeconds(tls.cert));
      logger.info({ certFile: certificates.certFile }, 'serving certificate reloaded');
    },
    (error) => logger.warn({ err: error }, 'could not reload the serving certificate; keeping the current one'),
  );

  const url = urlOf('https', app.server.address() as AddressInfo);
  const metricsUrl = urlOf(settings.metricsTls ? 'https' : 'http', metricsServer.address() as AddressInfo);
  const healthUrl = healthServer ? urlOf('http', healthServer.address() as AddressInfo) : undefined;
  return {
    app,
    metrics,
    metricsServer,
    url,
    metricsUrl,
    healthServer,
    healthUrl,
    certificates,
    async close() {
      await app.close();
      await Promise.all([closeNow(metricsServer), ...(healthServer ? [closeNow(healthServer)] : [])]);
    },
  };
}
