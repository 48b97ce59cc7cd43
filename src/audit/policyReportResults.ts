import type { Finding, Problem } from './clusterAudit.js';
import type { ClusterView } from '../rules/clusterView.js';
import { isAgentgatewayClass } from '../rules/gatewayParametersRef.js';
import { groupOf } from '../rules/objectRequest.js';
import { isRecord } from '../rules/objectPaths.js';
import type { RuleSettings } from '../rules/settings.js';
import { GATEWAY_API_GROUP, type KubeObject } from '../rules/types.js';
import { auditProblemRule, auditProblemSeverity, RULE_IDS, type RuleId } from '../rules/vocabulary.js';

/** The policy every result names, and the report's source (what Policy Reporter groups by). */
export const REPORT_SOURCE = 'kgateway-admission';
export const REPORT_NAME = 'kgateway-admission';

export type ReportRule = typeof RULE_IDS.crossNamespaceBackendRefs | typeof RULE_IDS.gatewayParametersRef;
/** `error`: the object could not be evaluated at all (a `check` input document that cannot be read). */
export type ResultValue = 'pass' | 'fail' | 'warn' | 'error';

export interface ReportResult {
  source: string;
  policy: string;
  rule: RuleId;
  result: ResultValue;
  message: string;
  resources: { apiVersion: string; kind: string; namespace: string; name: string; uid?: string }[];
  /** missingRefs: the refs no ReferenceGrant allows, `path: Kind namespace/name`, joined by "; "; problem: the audit's word; enforcement: deny or warn (admission admits it, by the labels of its namespace and its targets'). */
  properties?: Record<string, string>;
}

/** The report rule and result of an audit finding: its rule, `fail` for an error, `warn` for a warning (rules/vocabulary.ts). */
export function outcomeOf(finding: { problem: Problem; enforcement?: 'deny' | 'warn' }): { rule: ReportRule; result: ResultValue } {
  return { rule: auditProblemRule(finding.problem) as ReportRule, result: auditProblemSeverity(finding.problem, finding.enforcement) === 'error' ? 'fail' : 'warn' };
}

// The denial message lists each ungranted ref as "- <path>: <Kind> <namespace>/<name>".
const MISSING_REF_LINE = /^- (\S+): (\S+ \S+\/\S+)$/gm;

function missingRefs(message: string): string {
  return [...message.matchAll(MISSING_REF_LINE)].map(([, path, target]) => `${path}: ${target}`).join('; ');
}

function keyOf(o: { kind: string; namespace: string; name: string }): string {
  return `${o.kind}/${o.namespace}/${o.name}`;
}

/**
 * The report results of a scan, by namespace: one per object and rule, from
 * the audit's findings over the same objects (so reports and `audit` can never
 * disagree): `fail`/`warn` for an object with a finding, `pass` for one the
 * rule covers that has none. Policies of the backendRef kinds are covered by
 * cross-namespace-backend-refs; agentgateway Gateways by gateway-parameters-ref.
 */
export function reportResults(objects: Iterable<KubeObject>, findings: readonly Finding[], settings: RuleSettings, view: ClusterView): Map<string, ReportResult[]> {
  const found = new Map(findings.map((f) => [keyOf(f), f]));
  const referrerKinds = new Set([...settings.backendRefKinds, ...settings.scanKinds].map((k) => `${k.group}/${k.kind}`));
  const byNamespace = new Map<string, ReportResult[]>();
  for (const object of objects) {
    const namespace = object.metadata?.namespace;
    const name = object.metadata?.name;
    if (!namespace || !name || !object.kind || !object.apiVersion) continue;
    const group = groupOf(object.apiVersion);
    let rule: ReportRule;
    if (group === GATEWAY_API_GROUP && object.kind === 'Gateway') {
      const spec = isRecord(object.spec) ? object.spec : {};
      if (!isAgentgatewayClass(spec.gatewayClassName, settings, view)) continue;
      rule = RULE_IDS.gatewayParametersRef;
    } else if (referrerKinds.has(`${group}/${object.kind}`)) {
      rule = RULE_IDS.crossNamespaceBackendRefs;
    } else {
      continue;
    }
    const finding = found.get(keyOf({ kind: object.kind, namespace, name }));
    const uid = typeof object.metadata?.uid === 'string' ? object.metadata.uid : undefined;
    const resource = { apiVersion: object.apiVersion, kind: object.kind, namespace, name, ...(uid ? { uid } : {}) };
    const outcome = finding ? outcomeOf(finding) : { rule, result: 'pass' as const };
    const missing = finding ? missingRefs(finding.message) : '';
    const result: ReportResult = {
      source: REPORT_SOURCE,
      policy: REPORT_SOURCE,
      rule: outcome.rule,
      result: outcome.result,
      message: finding ? finding.message : rule === RULE_IDS.gatewayParametersRef ? 'the Gateway has its parametersRef and the object it names exists' : 'every cross-namespace backendRef is allowed by a ReferenceGrant',
      resources: [resource],
      ...(finding ? { properties: { problem: finding.problem, ...(finding.enforcement ? { enforcement: finding.enforcement } : {}), ...(missing ? { missingRefs: missing } : {}) } } : {}),
    };
    let list = byNamespace.get(namespace);
    if (!list) byNamespace.set(namespace, (list = []));
    list.push(result);
  }
  for (const list of byNamespace.values()) list.sort((a, b) => keyOf(a.resources[0]!).localeCompare(keyOf(b.resources[0]!)) || a.rule.localeCompare(b.rule));
  return byNamespace;
}

export interface ReportSummary {
  pass: number;
  fail: number;
  warn: number;
  error: number;
  skip: number;
}

export function summarize(results: readonly ReportResult[]): ReportSummary {
  const summary = { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 };
  for (const r of results) summary[r.result] += 1;
  return summary;
}
