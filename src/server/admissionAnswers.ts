import type { Logger } from 'pino';
import { rejectedReview, type AdmissionReviewResponse } from '../admission/admissionReview.js';
import type { AdmissionEngine, Endpoint } from '../admission/admissionEngine.js';
import { DecisionLog } from '../logging/decisionLog.js';
import type { RequestLabels } from './requestMetrics.js';


/** What goes back to the API server for one request. */
export interface Answer {
  statusCode: number;
  body: AdmissionReviewResponse;
}

/** Why a request was refused before it reached the engine (its body could not be read as JSON, or the server failed). */
export interface Refusal {
  statusCode: number;
  reason: string;
  /** Set for a 500: logged as an error with the cause, never sent. */
  error?: unknown;
}

export interface AdmissionAnswersOptions {
  engine: AdmissionEngine;
  logger: Logger;
  /** Where the one line per decision goes (serve batches them: see logging/serveLoggers.ts). */
  decisionLogger: Logger;
  /** The request metrics (AdmissionMetrics' observe). */
  metrics: { observe(labels: RequestLabels, seconds: number): void };
}

/**
 * The answer to an admission request, with its metrics and its one log line,
 * shared by the Fastify routes and the server's fast path (app.ts) so both
 * answer, count and log alike.
 */
export class AdmissionAnswers {
  private readonly engine: AdmissionEngine;
  private readonly logger: Logger;
  private readonly metrics: AdmissionAnswersOptions['metrics'];
  private readonly decisions: DecisionLog;

  constructor(options: AdmissionAnswersOptions) {
    this.decisions = new DecisionLog(options.decisionLogger);
    this.engine = options.engine;
    this.logger = options.logger;
    this.metrics = options.metrics;
  }

  /** Decides on a parsed body: observes the decision's metrics and logs its line. */
  async answer(endpoint: Endpoint, body: unknown): Promise<Answer> {
    const started = process.hrtime.bigint();
    const outcome = await this.engine.review(endpoint, body);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const admission = outcome.request;
    const kind = admission?.kind.kind ?? 'unknown';
    const operation = admission?.operation ?? 'unknown';
    this.metrics.observe({ endpoint, kind, operation, decision: outcome.decision }, seconds);
    // One line per decision; names only, never object bodies.
    this.decisions.write({
      endpoint,
      uid: outcome.body.response.uid,
      kind,
      operation,
      namespace: admission?.object?.metadata?.namespace ?? admission?.namespace,
      name: admission?.object?.metadata?.name ?? admission?.name,
      decision: outcome.decision,
      durationMs: Math.round(seconds * 1e6) / 1e3,
      reason: outcome.decision === 'invalid' ? outcome.body.response.status?.message : outcome.reason,
      reasonBounded: outcome.decision === 'invalid',
    });
    return { statusCode: outcome.statusCode, body: outcome.body };
  }

  /** The AdmissionReview for a request refused before a decision; counted as invalid and logged as a warning (an error for a 500). */
  refuse(endpoint: Endpoint, refusal: Refusal): Answer {
    this.metrics.observe({ endpoint, kind: 'unknown', operation: 'unknown', decision: 'invalid' }, 0);
    if (refusal.statusCode === 500) this.logger.error({ err: refusal.error, endpoint }, 'admission request failed');
    else this.logger.warn({ endpoint, statusCode: refusal.statusCode, reason: refusal.reason }, 'rejected admission request');
    return { statusCode: refusal.statusCode, body: rejectedReview('', refusal.statusCode, refusal.reason) };
  }
}
