import type { DecisionSink } from './decisionLog.js';

/** What pino.destination() returns, as far as the batching below uses it. */
export interface LineDestination {
  write(text: string): boolean;
  flush(callback?: (error?: Error) => void): void;
  flushSync(): void;
  end(): void;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
}

/**
 * A pino destination that hands the per-request decision lines
 * (DecisionSink's `writeDecision`, from DecisionLog) to the underlying destination 4 KiB at a
 * time, and every other line at once. pino's sonic-boom, given one line per
 * request, measures the bytes of all it holds on each write, over 30 times
 * the cost of a batched line (bench/README.md, "What changed in src/ because
 * of this bench"). Order is kept: a batch is handed over before any other
 * line, flush and flushSync; a batch waits at most `flushIntervalMs` (unless
 * 0), and what is left is written when the process exits.
 */
export class BatchedDecisionLines implements LineDestination, DecisionSink {
  private pending = '';
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly target: LineDestination,
    private readonly options: { minLength: number; flushIntervalMs: number } = { minLength: 4096, flushIntervalMs: 100 },
  ) {
    // 0: no timer (a batch waits for minLength, another line or a flush).
    this.timer = options.flushIntervalMs > 0 ? setInterval(() => this.handOver(), options.flushIntervalMs) : undefined;
    this.timer?.unref();
    // pino flushes its own destination on exit; this runs after it and writes the last batch.
    process.once('exit', () => {
      if (this.pending.length > 0) {
        this.handOver();
        target.flushSync();
      }
    });
  }

  writeDecision(line: string): void {
    this.pending += line;
    if (this.pending.length >= this.options.minLength) this.handOver();
  }

  write(text: string): boolean {
    this.handOver();
    return this.target.write(text);
  }

  flush(callback?: (error?: Error) => void): void {
    this.handOver();
    this.target.flush(callback);
  }

  flushSync(): void {
    this.handOver();
    this.target.flushSync();
  }

  end(): void {
    clearInterval(this.timer);
    this.handOver();
    this.target.end();
  }

  on(event: string, listener: (...args: unknown[]) => void): this {
    this.target.on(event, listener);
    return this;
  }

  private handOver(): void {
    if (this.pending.length === 0) return;
    const text = this.pending;
    this.pending = '';
    this.target.write(text);
  }
}
