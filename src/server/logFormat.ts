import { stdTimeFunctions, type LoggerOptions } from 'pino';

/**
 * The log line shape that stock log tooling reads without a pipeline of its
 * own: `"level":"info"` as a word (pino writes 30 by default, which Loki's,
 * Elastic's and Datadog's level detection do not map) and `"time"` as an
 * ISO-8601 UTC timestamp instead of epoch milliseconds.
 */
export const LOG_FORMAT = {
  formatters: { level: (label: string) => ({ level: label }) },
  timestamp: stdTimeFunctions.isoTime,
} satisfies LoggerOptions;
