import type { ClusterView } from './clusterView.js';
import { crossNamespaceBackendRefRule } from './crossNamespaceBackendRefs.js';
import { gatewayParametersRefRule } from './gatewayParametersRef.js';
import { referenceGrantGuardRule } from './referenceGrantGuard.js';
import type { Rule } from './rule.js';
import type { RuleSettings } from './settings.js';
import type { AdmissionRequest, Verdict } from './types.js';
import { allowed, combine } from './verdicts.js';

export interface RuleSet {
  mutating: readonly Rule[];
  validating: readonly Rule[];
}

export function buildRuleSet(settings: RuleSettings): RuleSet {
  return {
    mutating: [gatewayParametersRefRule(settings)],
    validating: [crossNamespaceBackendRefRule(settings), referenceGrantGuardRule(settings)],
  };
}

/**
 * A list of rules is a rule: every rule that handles the request decides, and
 * the verdicts are combined (deny wins, patches and warnings concatenate).
 */
export function decide(rules: readonly Rule[], request: AdmissionRequest, view: ClusterView): Verdict {
  const verdicts: Verdict[] = [];
  for (const rule of rules) {
    if (rule.handles(request)) verdicts.push(rule.decide(request, view));
  }
  if (verdicts.length === 0) return allowed();
  return verdicts.length === 1 ? verdicts[0]! : combine(verdicts);
}

/** Whether any rule in the list looks at this request at all. */
export function isHandled(rules: readonly Rule[], request: AdmissionRequest): boolean {
  return rules.some((rule) => rule.handles(request));
}
