import type { ClusterView } from './clusterView.js';
import { crossNamespaceBackendRefRule } from './crossNamespaceBackendRefs.js';
import { GATEWAY_API_GROUP, gatewayParametersRefRule } from './gatewayParametersRef.js';
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

/** The kinds the rules of these settings look at: Gateways, the kinds with backendRefs, ReferenceGrants. */
export function handledKinds(settings: Pick<RuleSettings, 'backendRefKinds' | 'scanKinds'>): { group: string; kind: string }[] {
  const kinds = [
    { group: GATEWAY_API_GROUP, kind: 'Gateway' },
    { group: GATEWAY_API_GROUP, kind: 'ReferenceGrant' },
    ...settings.backendRefKinds.map(({ group, kind }) => ({ group, kind })),
    ...settings.scanKinds.map(({ group, kind }) => ({ group, kind })),
  ];
  return [...new Map(kinds.map((k) => [`${k.group}/${k.kind}`, k])).values()];
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
