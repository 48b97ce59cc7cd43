import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Logger } from 'pino';
import type { AdmissionEngine } from '../admission/admissionEngine.js';
import { AdmissionAnswers } from './admissionAnswers.js';
import { admissionRoutes } from './admissionRoutes.js';
import { admissionFastPath } from './fastPath.js';
import { healthRoutes } from './healthRoutes.js';
import type { AdmissionMetrics } from './metrics.js';
import type { LoadedTls } from '../certificates/files.js';
import { secureContextOptions } from './tls.js';
import { capConnectionsPerSource, closeSilentConnections, connectionsCheckingInterval, drain, shortenIdle } from './connections.js';
import { endpointOfUrl } from './requestBody.js';
import type { ServerSettings } from '../config/serverSettings.js';

export interface AppOptions {
  engine: AdmissionEngine;
  logger: Logger;
  /** Where the one line per decision goes, when not to `logger` (serve batches them: see logging/serveLoggers.ts). */
  decisionLogger?: Logger;
  metrics: AdmissionMetrics;
  tls: LoadedTls;
  settings: ServerSettings;
  notReadyReason: () => string | undefined;
}

/**
 * The HTTPS app, built but not listening (Fastify's testing guide): tests use
 * `inject()` or a real socket at will. There is no plain-HTTP variant.
 */
export function buildApp(options: AppOptions): FastifyInstance {
  const { settings } = options;
  const https = {
    ...secureContextOptions(options.tls),
    // Node's defaults (120 s for a handshake, 60 s for headers checked
    // every 30 s) let a client that never starts TLS, or sends headers a
    // byte at a time, hold a connection for minutes.
    handshakeTimeout: settings.handshakeTimeoutMs,
    headersTimeout: settings.headersTimeoutMs,
    connectionsCheckingInterval: connectionsCheckingInterval(settings.headersTimeoutMs),
  };
  const answers = new AdmissionAnswers({ engine: options.engine, logger: options.logger, decisionLogger: options.decisionLogger ?? options.logger, metrics: options.metrics });
  const requireClientCertificate = options.tls.ca !== undefined;
  let closing = false;
  const fastPath = admissionFastPath({ answers, bodyLimitBytes: settings.bodyLimitBytes, requireClientCertificate, isClosing: () => closing });
  const app = Fastify({
    https,
    // The server is made here so that the admission requests the API server
    // sends take the fast path; everything else goes to Fastify's handler.
    serverFactory: (fastifyHandler: (req: IncomingMessage, res: ServerResponse) => void) => {
      const server = createHttpsServer(https, (req, res) => {
        if (!fastPath(req, res)) fastifyHandler(req, res);
      });
      // What Fastify sets on a server it makes itself.
      server.keepAliveTimeout = settings.keepAliveTimeoutMs;
      server.requestTimeout = settings.requestTimeoutMs;
      server.setTimeout(0);
      return server;
    },
    loggerInstance: options.logger,
    // The admission routes log one line per decision themselves.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: settings.bodyLimitBytes,
    keepAliveTimeout: settings.keepAliveTimeoutMs,
    // Time to receive a whole request; the API server sends at most 3 MiB
    // and gives up on a webhook after at most 30 s anyway.
    requestTimeout: settings.requestTimeoutMs,
    // During a graceful stop, a request that still arrives on an open
    // connection is answered (with Connection: close), not refused with 503:
    // the API server counts a 503 as a failed webhook call.
    return503OnClosing: false,
    // The drain in the preClose hook below closes idle connections itself.
    forceCloseConnections: false,
  }) as unknown as FastifyInstance;
  // Each open connection costs memory; without a cap, idle ones held for
  // the keep-alive timeout could exhaust the pod's. Past it Node closes new
  // connections at once.
  app.server.maxConnections = settings.maxConnections;
  capConnectionsPerSource(app.server, settings.maxConnectionsPerSource);
  closeSilentConnections(app.server as unknown as HttpsServer, settings.headersTimeoutMs);
  app.addHook('preClose', async () => {
    closing = true;
    await drain(app.server as unknown as HttpsServer, settings.drainTimeoutMs, settings.requestTimeoutMs);
  });
  // Fastify adds Connection: close to a request routed once closing; this
  // adds it to one routed before and answered after (a callback hook: it
  // runs for every Fastify response, and is false until shutdown).
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) void reply.header('connection', 'close');
    done(null, payload);
  });
  // Every answer Fastify writes; the fast path (authorised admission
  // requests, the API server's) does not come here. A connection used for
  // anything but admission gets the short idle limit.
  app.addHook('onResponse', (request, _reply, done) => {
    if (endpointOfUrl(request.url) === undefined) shortenIdle(request.raw.socket, settings.nonAdmissionIdleTimeoutMs);
    done();
  });
  void app.register(admissionRoutes, {
    answers,
    logger: options.logger,
    metrics: options.metrics,
    bodyLimitBytes: settings.bodyLimitBytes,
    requireClientCertificate,
  });
  void app.register(healthRoutes, { notReadyReason: options.notReadyReason });
  return app;
}
