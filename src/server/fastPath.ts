import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Endpoint } from '../admission/admissionEngine.js';
import type { AdmissionAnswers, Answer } from './admissionAnswers.js';
import { INVALID_JSON_REASON, parseJsonBody } from './admissionRoutes.js';

export interface FastPathOptions {
  answers: AdmissionAnswers;
  bodyLimitBytes: number;
  requireClientCertificate: boolean;
  /** True once the server is closing: requests then go through Fastify, which answers them with Connection: close. */
  isClosing: () => boolean;
  /** Called after each response written here. */
  afterResponse: () => void;
}

const noop = () => {};

/**
 * The request the API server sends, answered before Fastify: POST /mutate or
 * /validate, `Content-Type: application/json`, a Content-Length within the
 * body limit, from an authorised client. Its body is read, parsed and answered
 * with the same AdmissionAnswers as the Fastify routes, so the answer, the
 * metrics and the decision line are the same; Fastify's request and reply
 * objects, hooks, routing, content-type parsing and send pipeline are skipped,
 * the largest part of what the bench measured above the floor peer
 * (bench/README.md, "What changed in src/ because of this bench"). Anything
 * else (another method or path, a chunked or empty or oversized body, another
 * content type, an unauthorised client, a server that is closing) returns
 * false and goes to Fastify, whose routes answer it with the same reasons as
 * before.
 */
export function admissionFastPath(options: FastPathOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { answers, bodyLimitBytes } = options;
  return (req, res) => {
    if (req.method !== 'POST') return false;
    // The API server appends `?timeout=<the webhook's timeoutSeconds>s` to the URL.
    const url = req.url ?? '';
    const query = url.indexOf('?');
    const path = query < 0 ? url : url.slice(0, query);
    const endpoint: Endpoint | undefined = path === '/mutate' ? 'mutate' : path === '/validate' ? 'validate' : undefined;
    if (endpoint === undefined) return false;
    const headers = req.headers;
    if (headers['content-type'] !== 'application/json' || headers['transfer-encoding'] !== undefined) return false;
    // Node's parser holds the body to exactly Content-Length bytes.
    const length = Number(headers['content-length']);
    if (!(length > 0 && length <= bodyLimitBytes)) return false;
    if (options.requireClientCertificate && !(req.socket as TLSSocket).authorized) return false;
    if (options.isClosing()) return false;

    const send = (answer: Answer) => {
      const text = JSON.stringify(answer.body);
      res.writeHead(answer.statusCode, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
      res.end(text);
      options.afterResponse();
    };
    const fail = (error: unknown) => send(answers.refuse(endpoint, { statusCode: 500, reason: 'internal error', error }));
    const chunks: Buffer[] = [];
    // A client gone mid-body: the socket is destroyed and nothing is answered, as in Fastify.
    req.on('error', noop);
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      try {
        const parsed = parseJsonBody((chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8'));
        if (!parsed.ok) {
          send(answers.refuse(endpoint, { statusCode: 400, reason: INVALID_JSON_REASON }));
          return;
        }
        answers.answer(endpoint, parsed.value).then(send, fail);
      } catch (error) {
        fail(error);
      }
    });
    return true;
  };
}
