import type { ClusterView } from '../rules/clusterView.js';
import { decide, isHandled, type RuleSet } from '../rules/ruleSet.js';
import type { AdmissionRequest, Verdict } from '../rules/types.js';
import { allowed, denied, withWarnings } from '../rules/verdicts.js';
import { completeResponse, decodeAdmissionReview, rejectedReview, type AdmissionReviewResponse } from './admissionReview.js';

export type Endpoint = 'mutate' | 'validate';
export type Decision = 'allowed' | 'patched' | 'denied' | 'not-ready' | 'error' | 'invalid';
export type ConfirmationOutcome = 'confirmed' | 'overturned' | 'failed';

export interface ReviewOutcome {
  /** HTTP status: 200 for every decided review, 400 for a body that is not one. */
  statusCode: number;
  body: AdmissionReviewResponse;
  decision: Decision;
  request?: AdmissionRequest;
}

export interface AdmissionEngineOptions {
  ruleSet: RuleSet;
  view: ClusterView;
  /** False until the cluster view has synced; validation then fails closed. */
  isReady?: () => boolean;
  /**
   * Re-reads the ReferenceGrants of these namespaces from the API server into
   * the view. A watch can lag a `kubectl apply` that sends a grant and the
   * policy needing it together, so a denial is confirmed before it is sent.
   */
  refreshReferenceGrants?: (namespaces: string[]) => Promise<void>;
  onConfirmation?: (outcome: ConfirmationOutcome, error?: unknown) => void;
}

function decisionOf(verdict: Verdict): Decision {
  if (!verdict.allowed) return 'denied';
  return verdict.patch.length > 0 ? 'patched' : 'allowed';
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
      if (endpoint === 'validate' && this.options.isReady && !this.options.isReady() && isHandled(rules, request)) {
        verdict = denied(
          'kgateway-admission is not ready: its view of ReferenceGrants has not synced yet, so it cannot allow this change. Retry shortly.',
          503,
        );
        decision = 'not-ready';
      } else {
        verdict = decide(rules, request, this.options.view);
        if (!verdict.allowed && verdict.recheckReferenceGrantsIn && this.options.refreshReferenceGrants) {
          verdict = await this.confirmDenial(verdict, verdict.recheckReferenceGrantsIn, () => decide(rules, request, this.options.view));
        }
        decision = decisionOf(verdict);
      }
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      // Validation fails closed: an object we could not check is not let
      // through. Mutation only adds defaults, so it admits the object as sent
      // and says why it was left alone.
      verdict =
        endpoint === 'validate'
          ? denied(`kgateway-admission could not evaluate this object (${detail}); denying rather than admitting it unchecked`, 500)
          : withWarnings(allowed(), `kgateway-admission could not evaluate this object (${detail}); admitted unchanged`);
      decision = 'error';
    }
    return { statusCode: 200, body: completeResponse(request.uid, verdict, apiVersion), decision, request };
  }

  private async confirmDenial(verdict: Verdict, namespaces: string[], decideAgain: () => Verdict): Promise<Verdict> {
    try {
      await this.options.refreshReferenceGrants!(namespaces);
    } catch (error) {
      // The cached view already denies; a failed re-read keeps that answer.
      this.options.onConfirmation?.('failed', error);
      return verdict;
    }
    const again = decideAgain();
    this.options.onConfirmation?.(again.allowed ? 'overturned' : 'confirmed');
    return again;
  }
}
