import type { TLSSocket } from 'node:tls';
import { errorCodes, type FastifyError, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import { rejectedReview } from '../admission/admissionReview.js';
import type { AdmissionEngine, Endpoint } from '../admission/admissionEngine.js';
import { loggedName } from './logFields.js';
import type { AdmissionMetrics } from './metrics.js';

/** The message of the one info line logged per admission decision. */
export const DECISION_MESSAGE = 'admission decision';

/** Bytes of a decision line's reason: enough for a dozen refs, and a line stays a line. */
export const MAX_REASON_BYTES = 1024;
const ELLIPSIS = '…';
const encoder = new TextEncoder();

/** `text` on one line, cut to MAX_REASON_BYTES of UTF-8, at a character boundary, ending in … when cut. */
export function boundedReason(text: string): string {
  // Some denial messages span lines (the grant guard's); a reason reads as one.
  const reason = text.includes('\n') ? text.replace(/\s*\n\s*/g, ' ') : text;
  if (reason.length * 3 <= MAX_REASON_BYTES || Buffer.byteLength(reason) <= MAX_REASON_BYTES) return reason;
  const room = new Uint8Array(MAX_REASON_BYTES - Buffer.byteLength(ELLIPSIS));
  // encodeInto stops before a character that does not fit whole.
  const { read } = encoder.encodeInto(reason, room);
  return reason.slice(0, read) + ELLIPSIS;
}

export interface AdmissionRoutesOptions {
  engine: AdmissionEngine;
  logger: Logger;
  /** Where the one line per decision goes; `logger` when unset. */
  decisionLogger?: Logger;
  metrics: AdmissionMetrics;
  bodyLimitBytes: number;
  /** Refuse (401) clients without a certificate that the client CA verified. */
  requireClientCertificate?: boolean;
}

/**
 * POST /mutate and POST /validate. Every answer, even to a body that is empty,
 * malformed, of the wrong type or too large, is an AdmissionReview with a
 * reason, as controller-runtime's http.go answers.
 */
export const admissionRoutes: FastifyPluginAsync<AdmissionRoutesOptions> = async (app: FastifyInstance, options) => {
  const { engine, logger, metrics } = options;
  const decisionLogger = options.decisionLogger ?? logger;

  if (options.requireClientCertificate) {
    app.addHook('onRequest', async (request, reply) => {
      const socket = request.raw.socket as TLSSocket;
      if (socket.authorized) return;
      const sent = typeof socket.getPeerCertificate === 'function' && Object.keys(socket.getPeerCertificate()).length > 0;
      const reason = sent
        ? `client certificate refused: ${String(socket.authorizationError ?? 'not verified by the client CA')}`
        : 'a client certificate signed by the client CA is required';
      const endpoint = request.url.startsWith('/validate') ? 'validate' : 'mutate';
      metrics.observe({ endpoint, kind: 'unknown', operation: 'unknown', decision: 'unauthorized' }, 0);
      logger.warn({ endpoint, statusCode: 401, reason, remoteAddress: socket.remoteAddress }, 'rejected admission request');
      return reply.code(401).send(rejectedReview('', 401, reason));
    });
  }

  // application/json is read with plain JSON.parse instead of Fastify's
  // default parser (secure-json-parse: JSON.parse plus two regex scans of the
  // text for "__proto__" and "constructor" keys; its cost: bench/README.md,
  // "What changed in src/ because of this bench"). Those scans
  // guard code that merges a parsed body into other objects; the review is
  // only read here, never merged or assigned from, so they buy nothing. The
  // errors stay Fastify's own (fixed messages: a reason never echoes the body),
  // and a leading BOM is skipped as before.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = body as string;
    if (text.length === 0) {
      done(new errorCodes.FST_ERR_CTP_EMPTY_JSON_BODY(), undefined);
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    } catch {
      done(new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY(), undefined);
      return;
    }
    done(null, parsed);
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
    const endpoint = request.url.startsWith('/validate') ? 'validate' : 'mutate';
    metrics.observe({ endpoint, kind: 'unknown', operation: 'unknown', decision: 'invalid' }, 0);
    if (statusCode === 500) logger.error({ err: error, endpoint }, 'admission request failed');
    else logger.warn({ endpoint, statusCode, reason }, 'rejected admission request');
    void reply.code(statusCode).send(rejectedReview('', statusCode, reason));
  });

  const route = (endpoint: Endpoint) => {
    app.post(`/${endpoint}`, { bodyLimit: options.bodyLimitBytes }, async (request, reply) => {
      const started = process.hrtime.bigint();
      const outcome = await engine.review(endpoint, request.body);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const admission = outcome.request;
      const kind = admission?.kind.kind ?? 'unknown';
      const operation = admission?.operation ?? 'unknown';
      metrics.observe({ endpoint, kind, operation, decision: outcome.decision }, seconds);
      // One line per decision; names only, never object bodies.
      decisionLogger.info(
        {
          endpoint,
          uid: loggedName(outcome.body.response.uid),
          kind: loggedName(kind),
          operation,
          namespace: loggedName(admission?.object?.metadata?.namespace ?? admission?.namespace),
          name: loggedName(admission?.object?.metadata?.name ?? admission?.name),
          decision: outcome.decision,
          durationMs: Math.round(seconds * 1e6) / 1e3,
          ...(outcome.decision === 'invalid'
            ? { reason: outcome.body.response.status?.message }
            : outcome.reason !== undefined
              ? { reason: boundedReason(outcome.reason) }
              : {}),
        },
        DECISION_MESSAGE,
      );
      return reply.code(outcome.statusCode).send(outcome.body);
    });
  };
  route('mutate');
  route('validate');
};
