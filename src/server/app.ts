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
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  }) as unknown as FastifyInstance;
  void app.register(admissionRoutes, {
    engine: options.engine,
    logger: options.logger,
    metrics: options.metrics,
    bodyLimitBytes: options.bodyLimitBytes,
  });
  void app.register(healthRoutes, { notReadyReason: options.notReadyReason });
  return app;
}
