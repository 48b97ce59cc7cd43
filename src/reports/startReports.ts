import type { Logger } from 'pino';
import type { KubeApi } from '../kube/kubeApi.js';
import type { ClusterView } from '../rules/clusterView.js';
import type { KubeObject } from '../rules/types.js';
import type { RuleSet } from '../rules/ruleSet.js';
import type { RuleSettings } from '../rules/settings.js';
import type { Counter, Gauge } from 'prom-client';
import { LeaseElector } from '../kube/leaseElector.js';
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
 * audits the watch-fed view, keeps the openreports.io Reports and exports
 * kgateway_admission_findings; the others only keep their view (a scan on
 * every replica cost each one the audit, and before, a full LIST of every
 * policy: issue 21 item 4).
 */
export function startReports(options: {
  api: KubeApi;
  logger: Logger;
  metrics: ReportMetrics;
  settings: RuleSettings;
  /** The rule set admission uses, so reports and admission decide alike. */
  ruleSet: RuleSet;
  view: ClusterView;
  /** The watched objects the rules run over (the live view's, only as much as the rules read). */
  objects: () => Iterable<KubeObject>;
  /** Where the Lease lives: the pod's namespace. */
  leaseNamespace: string;
  leaseDurationSeconds?: number;
}): RunningReports {
  const { api } = options;
  let writer: PolicyReportWriter | undefined = undefined;
  const elector = new LeaseElector({
    api,
    logger: options.logger,
    namespace: options.leaseNamespace,
    name: REPORTS_LEASE_NAME,
    ...(options.leaseDurationSeconds ? { leaseDurationSeconds: options.leaseDurationSeconds } : {}),
    onStartedLeading: () => {
      options.metrics.reportsLeader.set(1);
      writer?.forget();
      writer?.changed();
    },
    onStoppedLeading: () => {
      options.metrics.reportsLeader.set(0);
      // Only the leader scans: a former leader's findings would go stale.
      options.metrics.findings.reset();
    },
  });
  writer = new PolicyReportWriter({
    api,
    logger: options.logger,
    ruleSet: options.ruleSet,
    settings: options.settings,
    view: options.view,
    objects: options.objects,
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
