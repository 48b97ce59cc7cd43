import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { Server as NetServer } from 'node:net';
import type { Logger } from 'pino';
import type { AdmissionEngine } from '../admission/admissionEngine.js';
import { AdmissionAnswers } from './admissionAnswers.js';
import { admissionRoutes } from './admissionRoutes.js';
import { admissionFastPath } from './fastPath.js';
import { healthRoutes } from './healthRoutes.js';
import type { AdmissionMetrics } from './metrics.js';
import type { LoadedTls } from '../certificates/files.js';
import { secureContextOptions } from './tls.js';

const netServerClose = NetServer.prototype.close;

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
  /** On close, how long connections idle then are left open for a last request (answered with Connection: close). */
  drainTimeoutMs: number;
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
  let closing = false;
  const fastPath = admissionFastPath({ answers, bodyLimitBytes: options.bodyLimitBytes, requireClientCertificate, isClosing: () => closing });
  const app = Fastify({
    https,
    // The server is made here so that the admission requests the API server
    // sends take the fast path; everything else goes to Fastify's handler.
    serverFactory: (fastifyHandler: (req: IncomingMessage, res: ServerResponse) => void) => {
      const server = createHttpsServer(https, (req, res) => {
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
    // The drain in the preClose hook below closes idle connections itself.
    forceCloseConnections: false,
  }) as unknown as FastifyInstance;
  // Each open connection costs memory; without a cap, idle ones held for
  // the keep-alive timeout could exhaust the pod's. Past it Node closes new
  // connections at once.
  app.server.maxConnections = options.maxConnections;
  closeSilentConnections(app.server as unknown as HttpsServer, options.headersTimeoutMs);
  app.addHook('preClose', async () => {
    closing = true;
    await drain(app.server as unknown as HttpsServer, options.drainTimeoutMs);
  });
  // Fastify adds Connection: close to a request routed once closing; this
  // adds it to one routed before and answered after (a callback hook: it
  // runs for every Fastify response, and is false until shutdown).
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) void reply.header('connection', 'close');
    done(null, payload);
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
 * A graceful stop, as Go's Server.Shutdown: no new connection is accepted;
 * every answer written from now on carries Connection: close (the fast path
 * and the onSend hook), so each connection is closed after its next answer and
 * the client stops reusing it by itself. A connection idle at this point is
 * not closed at once: the API server may be writing a request on it that
 * moment, and Go's client does not retry a POST on a kept-alive connection
 * that breaks (a failed webhook call). It gets `timeoutMs` to send a last
 * request or close the connection itself; what is still idle then is closed.
 * Resolves as soon as no connection is left, or when the time is up and the
 * idle ones are closed (those in the middle of a request are waited for by
 * Fastify's server.close() after this).
 */
async function drain(server: HttpsServer, timeoutMs: number): Promise<void> {
  // net.Server's close, not https.Server's: that one also closes every idle
  // connection at once. Its callback runs once the last connection is gone.
  // Fastify's later server.close() finds the server closed (and waits for
  // 'close', which is emitted again), which it expects.
  const allClosed = new Promise<void>((resolve) => netServerClose.call(server, () => resolve()));
  let timer: NodeJS.Timeout | undefined;
  const timeUp = new Promise<'timeUp'>((resolve) => (timer = setTimeout(() => resolve('timeUp'), timeoutMs)));
  const outcome = await Promise.race([allClosed, timeUp]);
  clearTimeout(timer);
  if (outcome === 'timeUp') server.closeIdleConnections();
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
