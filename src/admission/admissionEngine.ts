import { MAX_REREAD_NAMESPACES, recordingUngranted, type ClusterView, type Reconsider, type Reconsidered, type UnreadReason } from '../rules/clusterView.js';
import { decide, isHandled, type RuleSet } from '../rules/ruleSet.js';
import type { AdmissionRequest, Verdict } from '../rules/types.js';
import { allowed, errored, withWarnings } from '../rules/verdicts.js';
import { completeResponse, decodeAdmissionReview, rejectedReview, type AdmissionReviewResponse } from './admissionReview.js';

export type Endpoint = 'mutate' | 'validate';
export type Decision = 'allowed' | 'patched' | 'warned' | 'denied' | 'not-ready' | 'error' | 'invalid';
export type ConfirmationOutcome = 'confirmed' | 'overturned' | 'failed' | 'skipped';

export interface ReviewOutcome {
  /** HTTP status: 200 for every decided review, 400 for a body that is not one. */
  statusCode: number;
  body: AdmissionReviewResponse;
  decision: Decision;
  request?: AdmissionRequest;
  /** Why it was denied, warned or answered with warnings (names only), for the decision log. */
  reason?: string;
}

export interface AdmissionEngineOptions {
  ruleSet: RuleSet;
  view: ClusterView;
  /**
   * False until the cluster view has synced (or once it has gone stale):
   * validation then denies (503), mutation answers HTTP 503.
   */
  isReady?: () => boolean;
  /**
   * Decides again against what the API server holds now. A watch can lag a
   * `kubectl apply` that sends a grant and the policy needing it together, so
   * a denial is confirmed before it is sent.
   */
  reconsider?: Reconsider;
  onConfirmation?: (outcome: ConfirmationOutcome, error?: unknown) => void;
  /** Told every decided request and its final verdict (e.g. to record Warning events); must not throw or block. */
  onDecided?: (request: AdmissionRequest, verdict: Verdict) => void;
}

function decisionOf(verdict: Verdict): Decision {
  if (!verdict.allowed) return 'denied';
  if (verdict.warned) return 'warned';
  return verdict.patch.length > 0 ? 'patched' : 'allowed';
}

function reasonOf(verdict: Verdict): string | undefined {
  if (!verdict.allowed) return verdict.reason ?? verdict.message ?? 'denied';
  if (verdict.reason) return verdict.reason;
  return verdict.warnings.length > 0 ? verdict.warnings.join('; ') : undefined;
}

/**
 * From a parsed request body to the AdmissionReview to send back, for either
 * endpoint. Knows nothing of HTTP beyond the status code it suggests.
 */
export class AdmissionEngine {
  constructor(private readonly options: AdmissionEngineOptions) {}

  async review(endpoint: Endpoint, body: unknown): Promise<ReviewOutcome> {
    const decoded = decodeAdmissionReview(body);
    if (!decoded.ok) {
      return { statusCode: 400, body: rejectedReview(decoded.uid, 400, decoded.reason), decision: 'invalid' };
    }
    const { request, apiVersion } = decoded;
    const rules = endpoint === 'mutate' ? this.options.ruleSet.mutating : this.options.ruleSet.validating;
    let verdict: Verdict;
    let decision: Decision;
    try {
      if (this.options.isReady && !this.options.isReady() && isHandled(rules, request)) {
        verdict = errored(
          'kgateway-admission is not ready: its view of the cluster has not synced yet (or has gone stale), so it cannot decide on this change. Retry shortly.',
          503,
        );
        // Mutation reads GatewayClasses from the view, so an unsynced view
        // can miss a class and leave a Gateway without its parametersRef. It
        // answers HTTP 503 rather than a decision: to the API server that is
        // a failed call, so the mutating webhook's failurePolicy decides, as
        // when no pod answers (Fail: the write is refused and retried;
        // Ignore: admitted unmutated). Validation denies outright.
        if (endpoint === 'mutate') return { statusCode: 503, body: completeResponse(request.uid, verdict, apiVersion), decision: 'not-ready', request };
        decision = 'not-ready';
      } else {
        verdict = this.options.reconsider ? await this.decideConfirmed(rules, request) : decide(rules, request, this.options.view);
        decision = decisionOf(verdict);
      }
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      // Validation fails closed: an object we could not check is not let
      // through. Mutation only adds defaults, so it admits the object as sent
      // and says why it was left alone.
      verdict =
        endpoint === 'validate'
          ? errored(`kgateway-admission could not evaluate this object (${detail}); denying rather than admitting it unchecked`)
          : withWarnings(allowed(), `kgateway-admission could not evaluate this object (${detail}); admitted unchanged`);
      decision = 'error';
    }
    try {
      this.options.onDecided?.(request, verdict);
    } catch {
      // An observer never changes or delays the answer.
    }
    const reason = reasonOf(verdict);
    return { statusCode: 200, body: completeResponse(request.uid, verdict, apiVersion), decision, request, ...(reason !== undefined ? { reason } : {}) };
  }

  /**
   * Decides on the cached view, then confirms a denial for a missing grant
   * against the API server. The namespaces to read again are recorded while
   * deciding: one decision more, not two, for a denial of thousands of refs.
   */
  private async decideConfirmed(rules: RuleSet['validating'], request: AdmissionRequest): Promise<Verdict> {
    const recording = recordingUngranted(this.options.view);
    const verdict = decide(rules, request, recording.view);
    // A denial that rests on no missing grant (another rule's) is not re-read.
    if (verdict.allowed || recording.namespaces.size === 0) return verdict;
    let again: Reconsidered<Verdict>;
    try {
      again = await this.options.reconsider!([...recording.namespaces], (view) => decide(rules, request, view), verdict);
    } catch (error) {
      // The cached view already denies; a failed re-read keeps that answer.
      this.options.onConfirmation?.('failed', error);
      return verdict;
    }
    if (again.result.allowed) {
      this.options.onConfirmation?.('overturned');
      return again.result;
    }
    // Skipped: every namespace was past the per-request or rate limit, so nothing confirmed the cached denial.
    const outcome = again.error !== undefined ? 'failed' : again.reread.length === 0 ? 'skipped' : 'confirmed';
    this.options.onConfirmation?.(outcome, again.error);
    return again.unread.length === 0 ? again.result : { ...again.result, message: `${again.result.message ?? 'denied'}\n${unreadNote(again.unread)}` };
  }
}

const UNREAD_BECAUSE: Record<UnreadReason, string> = {
  'request-limit': `at most ${MAX_REREAD_NAMESPACES} namespaces are re-read per request`,
  'rate-limit': 'the re-reads of this server are rate-limited and none was left',
  failed: 'the read failed',
};
const MAX_NOTED_NAMESPACES = 10;

/**
 * Says which namespaces were judged on the watch-fed view alone, so a denial
 * that may be stale reads as such. Linear in the namespaces: a request can
 * name tens of thousands (copying a list per namespace took 4.6 s for 16,384),
 * and only the first few of each reason are named, the rest counted.
 */
export function unreadNote(unread: Reconsidered<unknown>['unread']): string {
  const byReason = new Map<UnreadReason, { named: string[]; count: number }>();
  for (const { namespace, reason } of unread) {
    let entry = byReason.get(reason);
    if (!entry) byReason.set(reason, (entry = { named: [], count: 0 }));
    if (entry.named.length < MAX_NOTED_NAMESPACES) entry.named.push(namespace);
    entry.count++;
  }
  const parts = [...byReason].map(([reason, { named, count }]) => {
    const more = count > named.length ? ` and ${count - named.length} more` : '';
    return `${named.join(', ')}${more} (${UNREAD_BECAUSE[reason]})`;
  });
  return `The re-check was limited: the ReferenceGrants of ${parts.join('; ')} were not read again from the API server before this denial, only taken from this server's watch, which can lag it by moments. If a grant was just created, retry.`;
}
