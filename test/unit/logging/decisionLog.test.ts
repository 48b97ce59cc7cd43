// The decision line is built as one string (DecisionLog) rather than by pino
// from an object; it must be the very line pino would write, for every shape
// of field and every logger configuration, or be written by pino itself.
import fc from 'fast-check';
import { pino, type LoggerOptions } from 'pino';
import { describe, expect, it } from 'vitest';
import { DECISION_MESSAGE, DecisionLog, type DecisionFields } from '../../../src/logging/decisionLog.js';
import { loggedName } from '../../../src/logging/logFields.js';
import { LOG_FORMAT } from '../../../src/logging/logFormat.js';

function capture(options: LoggerOptions): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = pino({ ...options, timestamp: () => ',"time":"T"' }, { write: (line: string) => void lines.push(line) });
  return { logger, lines };
}

const viaPino = (logger: pino.Logger, f: DecisionFields) =>
  logger.info(
    {
      endpoint: f.endpoint,
      uid: loggedName(f.uid),
      kind: loggedName(f.kind),
      operation: f.operation,
      namespace: loggedName(f.namespace),
      name: loggedName(f.name),
      decision: f.decision,
      durationMs: f.durationMs,
      reason: f.reason,
    },
    DECISION_MESSAGE,
  );

const anyValue = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.constant(undefined), fc.constant(null), fc.integer(), fc.array(fc.string()), fc.object());
const fields = fc.record({
  endpoint: fc.constantFrom('mutate', 'validate'),
  uid: anyValue,
  kind: anyValue,
  operation: fc.constantFrom('CREATE', 'UPDATE', 'DELETE', 'unknown'),
  namespace: anyValue,
  name: anyValue,
  decision: fc.constantFrom('allowed', 'denied', 'patched', 'invalid'),
  durationMs: fc.double({ min: 0, max: 1e6, noNaN: true }),
  reason: fc.option(fc.string({ maxLength: 300 }).filter((s) => !s.includes('\n')), { nil: undefined }),
});

describe('DecisionLog', () => {
  it.each<[string, LoggerOptions]>([
    ['the product format', { ...LOG_FORMAT, base: { service: 'kgateway-admission' } }],
    ['pino defaults', {}],
    ['a custom message key and bindings', { messageKey: 'message', base: { pid: 1, a: 'b"c' } }],
    ['a log formatter (written by pino)', { formatters: { log: (o: Record<string, unknown>) => ({ ...o, extra: 1 }) } }],
    ['a mixin (written by pino)', { mixin: () => ({ m: 1 }) }],
    ['redaction (written by pino)', { redact: ['name'] }],
  ])('writes the line pino writes, with %s', (_name, options) => {
    const direct = capture(options);
    const reference = capture(options);
    const log = new DecisionLog(direct.logger);
    fc.assert(
      fc.property(fields, (f) => {
        log.write(f);
        viaPino(reference.logger, f);
        expect(direct.lines.at(-1)).toBe(reference.lines.at(-1));
      }),
      { numRuns: 300 },
    );
  });

  it('writes nothing below info', () => {
    const { logger, lines } = capture({ level: 'warn' });
    new DecisionLog(logger).write({ endpoint: 'mutate', uid: 'u', kind: 'Gateway', operation: 'CREATE', namespace: 'n', name: 'x', decision: 'allowed', durationMs: 1 });
    expect(lines).toEqual([]);
  });
});
