import type { Logger } from 'pino';
import { KubeApi } from '../cluster/kubeApi.js';
import type { KubeConnectionConfig } from '../cluster/kubeCredentials.js';
import { ownNamespace } from '../cluster/ownNamespace.js';
import type { ClusterView } from '../rules/clusterView.js';
import { buildRuleSet } from '../rules/ruleSet.js';
import type { RuleSettings } from '../rules/settings.js';
import type { Counter, Gauge } from 'prom-client';
import { LeaseElector } from './leaseElector.js';
import { PolicyReportWriter } from './policyReportWriter.js';

export const REPORTS_LEASE_NAME = 'kgateway-admission-reports';

export interface RunningReports {
  /** Tell the writer something it reads changed (debounced). */
  changed(): void;
  stop(): Promise<void>;
}

/**
 * The metrics the reports export. server/metrics.ts's AdmissionMetrics
 * registers them; declared here so reports/ (an adapter) need not import the
 * server layer.
 */
export interface ReportMetrics {
  findings: Gauge<'rule' | 'result' | 'namespace'>;
  reportsLeader: Gauge;
  reportWrites: Counter<'outcome'>;
}

/**
 * `serve --reports`: one replica at a time (a Lease in the pod's namespace)
 * keeps the openreports.io Reports and every replica exports
 * kgateway_admission_findings from its own scans.
 */
export function startReports(options: {
  kubeConfig: KubeConnectionConfig;
  logger: Logger;
  metrics: ReportMetrics;
  settings: RuleSettings;
  view: ClusterView;
  leaseDurationSeconds?: number;
}): RunningReports {
  const api = new KubeApi(options.kubeConfig);
  const namespace = ownNamespace();
  let writer: PolicyReportWriter | undefined = undefined;
  const elector = new LeaseElector({
    api,
    logger: options.logger,
    namespace,
    name: REPORTS_LEASE_NAME,
    ...(options.leaseDurationSeconds ? { leaseDurationSeconds: options.leaseDurationSeconds } : {}),
    onStartedLeading: () => {
      options.metrics.reportsLeader.set(1);
      writer?.forget();
      writer?.changed();
    },
    onStoppedLeading: () => options.metrics.reportsLeader.set(0),
  });
  writer = new PolicyReportWriter({
    api,
    logger: options.logger,
    ruleSet: buildRuleSet(options.settings),
    settings: options.settings,
    view: options.view,
    isLeader: () => elector.isLeader(),
    onScan: (results) => {
      options.metrics.findings.reset();
      for (const [ns, list] of results) {
        const counts = new Map<string, number>();
        for (const r of list) counts.set(`${r.rule}|${r.result}`, (counts.get(`${r.rule}|${r.result}`) ?? 0) + 1);
        for (const [key, count] of counts) {
          const [rule, result] = key.split('|') as [string, string];
          options.metrics.findings.set({ rule, result, namespace: ns }, count);
        }
      }
    },
    onWrite: (outcome) => options.metrics.reportWrites.inc({ outcome }),
  });
  options.metrics.reportsLeader.set(0);
  elector.start();
  writer.start();
  return {
    changed: () => writer.changed(),
    async stop() {
      writer.stop();
      await elector.stop();
    },
  };
}
