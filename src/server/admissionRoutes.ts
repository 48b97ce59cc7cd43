import type { TLSSocket } from 'node:tls';
import { errorCodes, type FastifyError, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import { rejectedReview } from '../admission/admissionReview.js';
import type { Endpoint } from '../admission/admissionEngine.js';
import type { AdmissionAnswers } from './admissionAnswers.js';
import { loggedName } from '../logging/logFields.js';
import type { AdmissionMetrics } from './metrics.js';
import { endpointOfUrl, parseJsonBody } from './requestBody.js';


export interface AdmissionRoutesOptions {
  answers: AdmissionAnswers;
  logger: Logger;
  metrics: AdmissionMetrics;
  bodyLimitBytes: number;
  /** Refuse (401) clients without a certificate that the client CA verified. */
  requireClientCertificate?: boolean;
}

/** The endpoint of a request routed here (only /mutate and /validate are, with or without a query). */
const routeEndpoint = (url: string): Endpoint => endpointOfUrl(url) ?? 'mutate';

/**
 * POST /mutate and POST /validate. Every answer, even to a body that is empty,
 * malformed, of the wrong type or too large, is an AdmissionReview with a
 * reason, as controller-runtime's http.go answers. The common request (JSON of
 * a known length from an authorised client) is answered before Fastify by the
 * server's fast path (app.ts) with the same AdmissionAnswers; these routes
 * answer the rest.
 */
export const admissionRoutes: FastifyPluginAsync<AdmissionRoutesOptions> = async (app: FastifyInstance, options) => {
  const { answers, logger, metrics } = options;

  if (options.requireClientCertificate) {
    app.addHook('onRequest', async (request, reply) => {
      const socket = request.raw.socket as TLSSocket;
      if (socket.authorized) return;
      const sent = typeof socket.getPeerCertificate === 'function' && Object.keys(socket.getPeerCertificate()).length > 0;
      const reason = sent
        ? `client certificate refused: ${String(socket.authorizationError ?? 'not verified by the client CA')}`
        : 'a client certificate signed by the client CA is required';
      const endpoint = routeEndpoint(request.url);
      metrics.observe({ endpoint, kind: 'unknown', operation: 'unknown', decision: 'unauthorized' }, 0);
      logger.warn({ endpoint, statusCode: 401, reason, remoteAddress: socket.remoteAddress }, 'rejected admission request');
      // Closed after the answer: a client that cannot authenticate has no use for the connection.
      return reply.code(401).header('connection', 'close').send(rejectedReview('', 401, reason));
    });
  }

  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = body as string;
    if (text.length === 0) {
      done(new errorCodes.FST_ERR_CTP_EMPTY_JSON_BODY(), undefined);
      return;
    }
    const parsed = parseJsonBody(text);
    if (parsed.ok) done(null, parsed.value);
    else done(new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY(), undefined);
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const statusCode = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    const reason =
      error.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
        ? `request body is larger than the limit of ${options.bodyLimitBytes} bytes`
        : error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
          ? `unsupported content type ${JSON.stringify(loggedName(request.headers['content-type']) ?? '')}: send application/json`
          : error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY'
            ? 'request body is empty: send an AdmissionReview'
            : statusCode === 500
              ? 'internal error'
              : `request body is not valid JSON: ${error.message}`;
    const answer = answers.refuse(routeEndpoint(request.url), { statusCode, reason, error });
    void reply.code(answer.statusCode).send(answer.body);
  });

  const route = (endpoint: Endpoint) => {
    app.post(`/${endpoint}`, { bodyLimit: options.bodyLimitBytes }, async (request, reply) => {
      const answer = await answers.answer(endpoint, request.body);
      return reply.code(answer.statusCode).send(answer.body);
    });
  };
  route('mutate');
  route('validate');
};
