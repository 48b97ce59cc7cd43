import { symbols, type Logger } from 'pino';
import { loggedName } from './logFields.js';

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

export interface DecisionFields {
  endpoint: string;
  uid: unknown;
  kind: unknown;
  operation: string;
  namespace: unknown;
  name: unknown;
  decision: string;
  durationMs: number;
  /** Already bounded (an invalid request's reason) or to be bounded here. */
  reason?: string | undefined;
  reasonBounded?: boolean;
}

/**
 * A destination that takes the decision lines apart from every other line
 * (serve's BatchedDecisionLines hands them on in batches). DecisionLog writes
 * its lines to the logger's destination through this when the destination
 * is one, else with the destination's plain write.
 */
export interface DecisionSink {
  writeDecision(line: string): void;
}

function isDecisionSink(destination: object): destination is DecisionSink {
  return typeof (destination as Partial<DecisionSink>).writeDecision === 'function';
}

interface PinoInternals {
  [symbols.streamSym]: { write(line: string): unknown } | (DecisionSink & { write(line: string): unknown });
  [symbols.mixinSym]?: unknown;
  [symbols.formattersSym]: { log?: unknown };
  [symbols.nestedKeySym]?: unknown;
  [symbols.stringifiersSym]: object;
  [symbols.serializersSym]: Record<string, unknown>;
  [symbols.chindingsSym]: string;
  [symbols.timeSym]: () => string;
  [symbols.lsCacheSym]: Record<number, string>;
  [symbols.endSym]: string;
  [symbols.messageKeySym]: string;
}

const field = (key: string, value: string | undefined) => (value === undefined ? '' : `,"${key}":${JSON.stringify(value)}`);

/**
 * The one info line per admission decision, written as pino writes it (its
 * level word, time, bindings, then the fields and msg, to the logger's own
 * destination) but built as one string from known fields: pino's generic path
 * (the hook wrapper, the message formatter, a loop over an object's keys with
 * a check per value) costs more per request (bench/README.md, "What changed
 * in src/ because of this bench"). Every other line goes through pino.
 */
export class DecisionLog {
  private readonly pino: PinoInternals;
  private readonly messageField: string;
  /** False for a logger whose lines pino reshapes (mixin, log formatter, nested key, redaction, serializers of these fields): pino then writes the line. */
  private readonly direct: boolean;
  /** Where a line built here goes: the logger's destination (a logger's destination is fixed when it is made). */
  private readonly sink: DecisionSink;

  constructor(private readonly logger: Logger) {
    const p = logger as unknown as PinoInternals;
    this.pino = p;
    const destination = p[symbols.streamSym];
    this.sink = isDecisionSink(destination) ? destination : { writeDecision: (line) => destination.write(line) };
    this.messageField = `,${JSON.stringify(p[symbols.messageKeySym])}:${JSON.stringify(DECISION_MESSAGE)}`;
    const serialized = ['endpoint', 'uid', 'kind', 'operation', 'namespace', 'name', 'decision', 'durationMs', 'reason', p[symbols.messageKeySym]];
    this.direct =
      !p[symbols.mixinSym] &&
      !p[symbols.formattersSym].log &&
      !p[symbols.nestedKeySym] &&
      Object.getOwnPropertySymbols(p[symbols.stringifiersSym]).length + Object.keys(p[symbols.stringifiersSym]).length === 0 &&
      !serialized.some((key) => typeof p[symbols.serializersSym][key] === 'function');
  }

  write(fields: DecisionFields): void {
    const logger = this.logger;
    if (!logger.isLevelEnabled('info')) return;
    const reason = fields.reason === undefined || fields.reasonBounded ? fields.reason : boundedReason(fields.reason);
    if (!this.direct) {
      logger.info(
        {
          endpoint: fields.endpoint,
          uid: loggedName(fields.uid),
          kind: loggedName(fields.kind),
          operation: fields.operation,
          namespace: loggedName(fields.namespace),
          name: loggedName(fields.name),
          decision: fields.decision,
          durationMs: fields.durationMs,
          reason,
        },
        DECISION_MESSAGE,
      );
      return;
    }
    const p = this.pino;
    const line =
      p[symbols.lsCacheSym][logger.levels.values.info!] +
        p[symbols.timeSym]() +
        p[symbols.chindingsSym] +
        field('endpoint', fields.endpoint) +
        field('uid', loggedName(fields.uid)) +
        field('kind', loggedName(fields.kind)) +
        field('operation', fields.operation) +
        field('namespace', loggedName(fields.namespace)) +
        field('name', loggedName(fields.name)) +
        field('decision', fields.decision) +
        `,"durationMs":${fields.durationMs}` +
        field('reason', reason) +
      this.messageField +
      p[symbols.endSym];
    this.sink.writeDecision(line);
  }
}
