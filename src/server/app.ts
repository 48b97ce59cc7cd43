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

export interface AppOptions {
  engine: AdmissionEngine;
  logger: Logger;
  /** Where the one line per decision goes, when not to `logger` (serve batches them: see cli/logging.ts). */
  decisionLogger?: Logger;
  metrics: AdmissionMetrics;
  tls: LoadedTls;
  bodyLimitBytes: number;
  keepAliveTimeoutMs: number;
  /** Slow or idle clients: how long a connection may take for its TLS handshake, a request's headers, a whole request. */
  handshakeTimeoutMs: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /** Open connections accepted; past it, new ones are closed at once. */
  maxConnections: number;
  notReadyReason: () => string | undefined;
}

/**
 * The HTTPS app, built but not listening (Fastify's testing guide): tests use
 * `inject()` or a real socket at will. There is no plain-HTTP variant.
 */
export function buildApp(options: AppOptions): FastifyInstance {
  const https = {
    ...secureContextOptions(options.tls),
    // Node's defaults (120 s for a handshake, 60 s for headers checked
    // every 30 s) let a client that never starts TLS, or sends headers a
    // byte at a time, hold a connection for minutes.
    handshakeTimeout: options.handshakeTimeoutMs,
    headersTimeout: options.headersTimeoutMs,
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(options.headersTimeoutMs / 4))),
  };
  const answers = new AdmissionAnswers({ engine: options.engine, logger: options.logger, decisionLogger: options.decisionLogger ?? options.logger, metrics: options.metrics });
  const requireClientCertificate = options.tls.ca !== undefined;
  // server.close() closes the connections that are idle when it is called;
  // one busy then (a request in flight at SIGTERM) would stay open after its
  // response for the keep-alive timeout (120 s) and hold the exit. So while
  // closing, each response is followed by closing whatever has become idle.
  let closing = false;
  let server: HttpsServer | undefined;
  const afterResponse = () => {
    if (closing) setImmediate(() => server?.closeIdleConnections());
  };
  const fastPath = admissionFastPath({ answers, bodyLimitBytes: options.bodyLimitBytes, requireClientCertificate, isClosing: () => closing, afterResponse });
  const app = Fastify({
    https,
    // The server is made here so that the admission requests the API server
    // sends take the fast path; everything else goes to Fastify's handler.
    serverFactory: (fastifyHandler: (req: IncomingMessage, res: ServerResponse) => void) => {
      server = createHttpsServer(https, (req, res) => {
        if (!fastPath(req, res)) fastifyHandler(req, res);
      });
      // What Fastify sets on a server it makes itself.
      server.keepAliveTimeout = options.keepAliveTimeoutMs;
      server.requestTimeout = options.requestTimeoutMs;
      server.setTimeout(0);
      return server;
    },
    loggerInstance: options.logger,
    // The admission routes log one line per decision themselves.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimitBytes,
    keepAliveTimeout: options.keepAliveTimeoutMs,
    // Time to receive a whole request; the API server sends at most 3 MiB
    // and gives up on a webhook after at most 30 s anyway.
    requestTimeout: options.requestTimeoutMs,
    // During a graceful stop, a request that still arrives on an open
    // connection is answered (with Connection: close), not refused with 503:
    // the API server counts a 503 as a failed webhook call.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
  }) as unknown as FastifyInstance;
  // Each open connection costs memory; without a cap, idle ones held for
  // the keep-alive timeout could exhaust the pod's. Past it Node closes new
  // connections at once.
  app.server.maxConnections = options.maxConnections;
  closeSilentConnections(app.server as unknown as HttpsServer, options.headersTimeoutMs);
  app.addHook('preClose', async () => {
    closing = true;
  });
  // A callback hook, not an async one: this runs after every response, and
  // an async hook costs a promise and a microtask per request for a check
  // that is false until shutdown. (Hooks cannot be added once listening.)
  app.addHook('onResponse', (_request, _reply, done) => {
    afterResponse();
    done();
  });
  void app.register(admissionRoutes, {
    answers,
    logger: options.logger,
    metrics: options.metrics,
    bodyLimitBytes: options.bodyLimitBytes,
    requireClientCertificate,
  });
  void app.register(healthRoutes, { notReadyReason: options.notReadyReason });
  return app;
}

/**
 * Node's headers timeout starts with a request's first byte, and the keep-alive
 * timeout only after a response: a client that completes the TLS handshake
 * and then sends nothing would hold its connection for good. Such a connection
 * is closed once it has been silent for the headers timeout.
 */
function closeSilentConnections(server: HttpsServer, timeoutMs: number): void {
  // Asks the socket how many bytes it has read rather than watching it with a
  // 'data' listener: a 'data' listener makes Node's HTTP server unconsume the
  // socket and parse every later request through the slower JS path
  // (socketOnData; its cost: bench/README.md, "What changed in src/ because
  // of this bench"). A
  // client that sent part of its headers is left to the headers timeout (408).
  server.on('secureConnection', (socket) => {
    const timer = setTimeout(() => {
      if (socket.bytesRead === 0) socket.destroy();
    }, timeoutMs);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  });
}
