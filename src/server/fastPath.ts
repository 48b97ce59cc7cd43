import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { AdmissionAnswers, Answer } from './admissionAnswers.js';
import { endpointOfUrl, INVALID_JSON_REASON, parseJsonBody } from './requestBody.js';

export interface FastPathOptions {
  answers: AdmissionAnswers;
  bodyLimitBytes: number;
  requireClientCertificate: boolean;
  /** True once the server is closing: an answer then carries Connection: close (see `send`). */
  isClosing: () => boolean;
}

const noop = () => {};

/** Requests read on a connection and not answered yet: more than one only when the client pipelines. */
const unanswered = new WeakMap<object, number>();

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
 * content type, an unauthorised client) returns false and goes to Fastify,
 * whose routes answer it with the same reasons as before.
 */
export function admissionFastPath(options: FastPathOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { answers, bodyLimitBytes } = options;
  return (req, res) => {
    if (req.method !== 'POST') return false;
    const endpoint = endpointOfUrl(req.url ?? '');
    if (endpoint === undefined) return false;
    const headers = req.headers;
    if (headers['content-type'] !== 'application/json' || headers['transfer-encoding'] !== undefined) return false;
    // Node's parser holds the body to exactly Content-Length bytes.
    const length = Number(headers['content-length']);
    if (!(length > 0 && length <= bodyLimitBytes)) return false;
    if (options.requireClientCertificate && !(req.socket as TLSSocket).authorized) return false;

    const socket = req.socket;
    unanswered.set(socket, (unanswered.get(socket) ?? 0) + 1);
    const send = (answer: Answer) => {
      const text = JSON.stringify(answer.body);
      const left = unanswered.get(socket)! - 1;
      unanswered.set(socket, left);
      // Once closing, the last answer owed on a connection carries
      // Connection: close, decided when it is written (as Go's
      // Server.Shutdown does): the client then stops reusing the connection
      // itself and Node closes it after this answer, instead of the server
      // closing it idle while the client may be writing a request on it. A
      // request pipelined behind this one is still answered first.
      if (left === 0 && options.isClosing()) {
        res.writeHead(answer.statusCode, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), connection: 'close' });
      } else {
        res.writeHead(answer.statusCode, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
      }
      res.end(text);
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
