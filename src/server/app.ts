import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { AdmissionEngine } from '../admission/admissionEngine.js';
import { admissionRoutes } from './admissionRoutes.js';
import { healthRoutes } from './healthRoutes.js';
import type { AdmissionMetrics } from './metrics.js';
import { secureContextOptions, type LoadedTls } from './tls.js';

export interface AppOptions {
  engine: AdmissionEngine;
  logger: Logger;
  metrics: AdmissionMetrics;
  tls: LoadedTls;
  bodyLimitBytes: number;
  keepAliveTimeoutMs: number;
  notReadyReason: () => string | undefined;
}

/**
 * The HTTPS app, built but not listening (Fastify's testing guide): tests use
 * `inject()` or a real socket at will. There is no plain-HTTP variant.
 */
export function buildApp(options: AppOptions): FastifyInstance {
  const app = Fastify({
    https: secureContextOptions(options.tls),
    loggerInstance: options.logger,
    // The admission routes log one line per decision themselves.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimitBytes,
    keepAliveTimeout: options.keepAliveTimeoutMs,
    // The API server gives up on a webhook after at most 30 s.
    requestTimeout: 30_000,
    // During a graceful stop, a request that still arrives on an open
    // connection is answered (with Connection: close), not refused with 503:
    // the API server counts a 503 as a failed webhook call.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
  }) as unknown as FastifyInstance;
  // server.close() closes the connections that are idle when it is called;
  // one busy then (a request in flight at SIGTERM) would stay open after its
  // response for the keep-alive timeout (120 s) and hold the exit. So while
  // closing, each response is followed by closing whatever has become idle.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  // A callback hook, not an async one: this runs after every response, and
  // an async hook costs a promise and a microtask per request for a check
  // that is false until shutdown. (Hooks cannot be added once listening.)
  app.addHook('onResponse', (_request, _reply, done) => {
    if (closing) setImmediate(() => app.server.closeIdleConnections());
    done();
  });
  void app.register(admissionRoutes, {
    engine: options.engine,
    logger: options.logger,
    metrics: options.metrics,
    bodyLimitBytes: options.bodyLimitBytes,
    requireClientCertificate: options.tls.ca !== undefined,
  });
  void app.register(healthRoutes, { notReadyReason: options.notReadyReason });
  return app;
}
