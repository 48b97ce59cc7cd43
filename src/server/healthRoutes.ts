import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyPluginAsync } from 'fastify';

export interface HealthRoutesOptions {
  /** Why the server is not ready yet, or undefined when it is. */
  notReadyReason: () => string | undefined;
}

/** The answer to GET /healthz (the process answers) or GET /readyz (it can decide); undefined for another path. */
function healthAnswer(path: string, notReadyReason: () => string | undefined): { statusCode: number; body: object } | undefined {
  if (path === '/healthz') return { statusCode: 200, body: { status: 'ok' } };
  if (path !== '/readyz') return undefined;
  const reason = notReadyReason();
  return reason === undefined ? { statusCode: 200, body: { status: 'ready' } } : { statusCode: 503, body: { status: 'not ready', reason } };
}

/** The probes on the admission port (Fastify), for callers that probe it; the chart probes the health port. */
export const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (app, options) => {
  for (const path of ['/healthz', '/readyz']) {
    app.get(path, async (_request, reply) => {
      const answer = healthAnswer(path, options.notReadyReason)!;
      return reply.code(answer.statusCode).send(answer.body);
    });
  }
};

/** The request handler of the health port: the same probes over plain HTTP, 404 for anything else. */
export function healthHandler(options: HealthRoutesOptions): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const url = req.url ?? '';
    const query = url.indexOf('?');
    const answer = req.method === 'GET' || req.method === 'HEAD' ? healthAnswer(query < 0 ? url : url.slice(0, query), options.notReadyReason) : undefined;
    if (answer === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the health port serves GET /healthz and /readyz\n');
      return;
    }
    const text = JSON.stringify(answer.body);
    res.writeHead(answer.statusCode, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) }).end(text);
  };
}
