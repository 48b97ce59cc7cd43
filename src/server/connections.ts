/**
 * What the servers do with their connections, apart from answering on them:
 * caps (in all and per source address), closing silent and idle ones, and the
 * drain on close.
 */
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { Server as NetServer, type Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';

const netServerClose = NetServer.prototype.close;

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
 * Fastify's server.close() after this, for at most `requestTimeoutMs`).
 */
export async function drain(server: HttpsServer, timeoutMs: number, requestTimeoutMs: number): Promise<void> {
  // net.Server's close, not https.Server's: that one also closes every idle
  // connection at once. Its callback runs once the last connection is gone.
  // Fastify's later server.close() finds the server closed (and waits for
  // 'close', which is emitted again), which it expects.
  const allClosed = new Promise<void>((resolve) => netServerClose.call(server, () => resolve()));
  let timer: NodeJS.Timeout | undefined;
  const timeUp = new Promise<'timeUp'>((resolve) => (timer = setTimeout(() => resolve('timeUp'), timeoutMs)));
  const outcome = await Promise.race([allClosed, timeUp]);
  clearTimeout(timer);
  if (outcome !== 'timeUp') return;
  server.closeIdleConnections();
  // What is left is in the middle of a request. Fastify's server.close()
  // after this is http.Server's, which stops Node's headers and request
  // timeouts (it clears their checking interval): a client sending its
  // request a byte at a time would hold the exit until SIGKILL. A request
  // has `requestTimeoutMs` to arrive; whatever is still open then is closed.
  const cutOff = setTimeout(() => server.closeAllConnections(), requestTimeoutMs);
  cutOff.unref();
  server.once('close', () => clearTimeout(cutOff));
}

/**
 * Node's headers timeout starts with a request's first byte, and the keep-alive
 * timeout only after a response: a client that completes the TLS handshake
 * and then sends nothing would hold its connection for good. Such a connection
 * is closed once it has been silent for the headers timeout.
 */
export function closeSilentConnections(server: HttpsServer | HttpServer, timeoutMs: number): void {
  // Asks the socket how many bytes it has read rather than watching it with a
  // 'data' listener: a 'data' listener makes Node's HTTP server unconsume the
  // socket and parse every later request through the slower JS path
  // (socketOnData; its cost: bench/README.md, "What changed in src/ because
  // of this bench"). A
  // client that sent part of its headers is left to the headers timeout (408).
  // On the HTTPS port, once TLS is up: the handshake has its own timeout.
  const event = server instanceof TlsServer ? 'secureConnection' : 'connection';
  server.on(event, (socket: Socket) => {
    const timer = setTimeout(() => {
      if (socket.bytesRead === 0) socket.destroy();
    }, timeoutMs);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  });
}

/**
 * At most `max` open connections from one source address. `maxConnections`
 * is shared: without this, one pod opening that many connections (each
 * asking for /healthz, which needs no client certificate) locks the API
 * server and every other client out. Past the cap a new connection is closed
 * at once. This runs once per connection, never per request.
 */
export function capConnectionsPerSource(server: NetServer, max: number): void {
  const open = new Map<string, number>();
  // Before the TLS server's own listener has any use of the socket.
  server.prependListener('connection', (socket: Socket) => {
    const source = socket.remoteAddress ?? '';
    const count = (open.get(source) ?? 0) + 1;
    if (count > max) {
      socket.destroy();
      return;
    }
    open.set(source, count);
    socket.once('close', () => {
      const left = open.get(source)! - 1;
      if (left === 0) open.delete(source);
      else open.set(source, left);
    });
  });
}

/**
 * After an answer that was not to an authorised admission request (a probe,
 * a 404, a metrics scrape), the connection may idle for `timeoutMs` instead of
 * the keep-alive timeout: only the API server needs long-lived connections,
 * and it sends nothing else. Called once the answer is written: Node has just
 * set the keep-alive timeout on the socket (a socket timeout of 0 means a
 * request pipelined behind this one is already being read, and is left
 * alone).
 */
export function shortenIdle(socket: Socket, timeoutMs: number): void {
  if (socket.timeout !== undefined && socket.timeout > timeoutMs) socket.setTimeout(timeoutMs);
}

/**
 * The connection limits of the health and metrics ports: those of the HTTPS
 * port, with the short idle limit as keep-alive (they answer no admission
 * request). Give the server `connectionsCheckingInterval` (and, with TLS,
 * `handshakeTimeout`) when it is made.
 */
export function limitSidePortConnections(
  server: HttpServer | HttpsServer,
  settings: { headersTimeoutMs: number; requestTimeoutMs: number; nonAdmissionIdleTimeoutMs: number; maxConnections: number; maxConnectionsPerSource: number },
): void {
  server.headersTimeout = settings.headersTimeoutMs;
  server.requestTimeout = settings.requestTimeoutMs;
  server.keepAliveTimeout = settings.nonAdmissionIdleTimeoutMs;
  server.maxConnections = settings.maxConnections;
  capConnectionsPerSource(server, settings.maxConnectionsPerSource);
  closeSilentConnections(server, settings.headersTimeoutMs);
}

/** Node checks headers and request timeouts on this interval (default 30 s): a quarter of the headers timeout, within 50 ms..1 s. */
export function connectionsCheckingInterval(headersTimeoutMs: number): number {
  return Math.max(50, Math.min(1000, Math.floor(headersTimeoutMs / 4)));
}
