import type { LoggerOptions } from 'pino';

/**
 * The log line shape that stock log tooling reads without a pipeline of its
 * own: `"level":"info"` as a word (pino writes 30 by default, which Loki's,
 * Elastic's and Datadog's level detection do not map) and `"time"` as an
 * ISO-8601 UTC timestamp instead of epoch milliseconds.
 */
export const LOG_FORMAT = {
  formatters: { level: (label: string) => ({ level: label }) },
  timestamp: isoTimeOncePerMillisecond(),
} satisfies LoggerOptions;

/**
 * pino's isoTime formats a Date for every line, a cost paid on every decision
 * (measured in bench/README.md, "What changed in src/ because of this bench");
 * lines within the same millisecond share one string.
 */
function isoTimeOncePerMillisecond(): () => string {
  let lastMs = -1;
  let last = '';
  return () => {
    const now = Date.now();
    if (now !== lastMs) {
      lastMs = now;
      last = `,"time":"${new Date(now).toISOString()}"`;
    }
    return last;
  };
}
