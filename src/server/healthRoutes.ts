import type { FastifyPluginAsync } from 'fastify';

export interface HealthRoutesOptions {
  /** Why the server is not ready yet, or undefined when it is. */
  notReadyReason: () => string | undefined;
}

/** GET /healthz (the process answers) and GET /readyz (it can decide). */
export const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (app, options) => {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const reason = options.notReadyReason();
    if (reason !== undefined) return reply.code(503).send({ status: 'not ready', reason });
    return { status: 'ready' };
  });
};
