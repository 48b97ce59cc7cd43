import { pino, type Logger } from 'pino';
import { BatchedDecisionLines } from './logDestination.js';
import { LOG_FORMAT } from './logFormat.js';

export interface ServeLoggers {
  /** Start-up, warnings, errors, shutdown: each line written at once. */
  logger: Logger;
  /** The one line per admission decision: written in batches. */
  decisionLogger: Logger;
}

/**
 * serve's logs on stdout, as two loggers sharing one asynchronous
 * destination (so lines keep their order). Decision lines are handed to
 * pino's destination 4 KiB at a time (BatchedDecisionLines, which the
 * decision logger's DecisionLog writes to) and written 4 KiB at a time: pino's
 * default starts a thread-pool write whenever none is in flight, a round trip
 * every few requests, and its destination measures all it holds on each
 * write (the cost of each: bench/README.md, "What changed in src/ because of
 * this bench"); a decision line waits at most 100 ms. Every other line flushes
 * both at once, and what is left is written when the process exits. A
 * synchronous destination measured cheaper still, but it blocks the event
 * loop (in 100 ms sleeps, as stdout is non-blocking) when stdout backs up.
 */
export function serveLoggers(level: string, output: { dest?: number | string; periodicFlushMs?: number } = {}): ServeLoggers {
  const periodicFlushMs = output.periodicFlushMs ?? 100;
  const destination = new BatchedDecisionLines(pino.destination({ dest: output.dest ?? 1, sync: false, minLength: 4096, periodicFlush: periodicFlushMs }), {
    minLength: 4096,
    flushIntervalMs: periodicFlushMs,
  });
  const options = { ...LOG_FORMAT, level, base: { service: 'kgateway-admission' } };
  const decisionLogger = pino(options, destination);
  const logger = pino(
    {
      ...options,
      hooks: {
        logMethod(args, method) {
          method.apply(this, args);
          destination.flush();
        },
      },
    },
    destination,
  );
  return { logger, decisionLogger };
}
