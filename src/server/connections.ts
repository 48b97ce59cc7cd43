/** What the HTTPS server does with its connections, apart from answering on them: closing silent ones, and the drain on close. */
import type { Server as HttpsServer } from 'node:https';
import { Server as NetServer } from 'node:net';

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
 * Fastify's server.close() after this).
 */
export async function drain(server: HttpsServer, timeoutMs: number): Promise<void> {
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
export function closeSilentConnections(server: HttpsServer, timeoutMs: number): void {
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
