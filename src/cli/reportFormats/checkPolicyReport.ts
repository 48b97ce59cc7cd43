import { stringify } from 'yaml';
import { REPORT_API } from '../../reports/policyReportWriter.js';
import { REPORT_SOURCE, summarize, type ReportResult } from '../../audit/policyReportResults.js';
import type { EvaluatedObject } from '../checkResults.js';
import type { RuleId } from '../../rules/vocabulary.js';

/**
 * `check --output policyreport`: openreports.io Reports, one per namespace
 * (as `serve --reports` writes them in a cluster and `kyverno apply
 * --policy-report` prints them): per object and rule, `fail` for an error,
 * `warn` for a warning, `pass` for a rule that looked at it and found
 * nothing. Documents that could not be read are `error` results in the
 * Report of no namespace, with their file and line as properties.
 */
export function formatCheckPolicyReports(evaluated: readonly EvaluatedObject[], now = new Date()): string {
  const byNamespace = new Map<string, ReportResult[]>();
  const add = (namespace: string, result: ReportResult) => {
    const list = byNamespace.get(namespace) ?? [];
    list.push(result);
    byNamespace.set(namespace, list);
  };
  for (const { result, findings, rules } of evaluated) {
    const resource = { apiVersion: result.apiVersion, kind: result.kind, namespace: result.namespace, name: result.name };
    const where = { file: result.file, ...(result.line > 0 ? { line: String(result.line) } : {}) };
    for (const finding of findings) {
      add(result.namespace, {
        source: REPORT_SOURCE,
        policy: REPORT_SOURCE,
        rule: finding.rule as RuleId,
        result: result.problem ? 'error' : finding.level === 'error' ? 'fail' : 'warn',
        message: finding.message,
        resources: result.problem ? [] : [resource],
        properties: where,
      });
    }
    for (const rule of rules) {
      if (findings.some((f) => f.rule === rule)) continue;
      add(result.namespace, { source: REPORT_SOURCE, policy: REPORT_SOURCE, rule: rule as RuleId, result: 'pass', message: 'admitted', resources: [resource], properties: where });
    }
  }
  const seconds = Math.floor(now.getTime() / 1000);
  return [...byNamespace.keys()]
    .sort()
    .map((namespace) => {
      const results = byNamespace.get(namespace)!;
      return stringify({
        apiVersion: `${REPORT_API.group}/${REPORT_API.version}`,
        kind: namespace ? 'Report' : 'ClusterReport',
        metadata: { name: 'kgateway-admission-check', ...(namespace ? { namespace } : {}) },
        source: REPORT_SOURCE,
        summary: summarize(results),
        results: results.map((r) => ({ ...r, timestamp: { seconds, nanos: 0 } })),
      });
    })
    .join('---\n')
    .trimEnd();
}
