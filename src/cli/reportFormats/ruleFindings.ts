import type { ClusterView } from '../../rules/clusterView.js';
import { appliesTo, type Rule } from '../../rules/rule.js';
import type { AdmissionRequest } from '../../rules/types.js';
import type { ReportFinding } from './report.js';

/**
 * Each rule's own verdict on one object, as findings named by the rule: a
 * denial is an error, a warning a warning. A patch is no finding: adding the
 * parametersRef on admission is the webhook's job, not a fault of the manifest.
 */
export function ruleFindings(rules: readonly Rule[], request: AdmissionRequest, view: ClusterView): ReportFinding[] {
  const verdicts = rules.filter((rule) => appliesTo(rule, request)).map((rule) => ({ rule: rule.name, verdict: rule.decide(request, view) }));
  const findings: ReportFinding[] = [];
  for (const { rule, verdict } of verdicts) {
    if (!verdict.allowed) findings.push({ rule, level: 'error', message: verdict.message ?? 'denied' });
    for (const warning of verdict.warnings) findings.push({ rule, level: 'warning', message: warning });
  }
  return findings;
}
