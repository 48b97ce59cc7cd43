import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { apiPath, type KubeApi } from '../kube/kubeApi.js';
import { auditObjects } from '../audit/clusterAudit.js';
import type { ClusterView } from '../rules/clusterView.js';
import { REPORT_NAME, REPORT_SOURCE, reportResults, summarize, type ReportResult } from '../audit/policyReportResults.js';
import type { RuleSet } from '../rules/ruleSet.js';
import type { RuleSettings } from '../rules/settings.js';
import type { KubeObject } from '../rules/types.js';

export const REPORT_API = { group: 'openreports.io', version: 'v1alpha1', plural: 'reports' } as const;
export const FIELD_MANAGER = 'kgateway-admission';
const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'kgateway-admission' };
/** Our Reports only: Kyverno's and others' are never listed. */
const OURS = 'app.kubernetes.io/managed-by=kgateway-admission';

export interface PolicyReportWriterOptions {
  api: KubeApi;
  logger: Logger;
  ruleSet: RuleSet;
  settings: RuleSettings;
  view: ClusterView;
  /**
   * The objects the rules run over, from the watch-fed view (Gateways and the
   * kinds with backendRefs, only as much as the rules read): a scan lists
   * nothing but our own Reports.
   */
  objects: () => Iterable<KubeObject>;
  /** Scans and writes only while this says so (the Lease holder). */
  isLeader: () => boolean;
  /** Changes within this long are folded into one scan (default 2 s). */
  debounceMs?: number;
  /**
   * A scan at most this long after the first change it folds in (default
   * 10 s), however often changes keep coming: an object touched every second
   * must not hold every Report back (issue 21 item 6).
   */
  maxDelayMs?: number;
  /** A scan at least this often, whatever the watches saw (default 5 min). */
  resyncMs?: number;
  onScan?: (results: Map<string, ReportResult[]>) => void;
  onWrite?: (outcome: 'applied' | 'deleted' | 'unchanged' | 'failed') => void;
}

/**
 * Keeps one openreports.io/v1alpha1 Report per namespace from the audit of
 * what the cluster holds now, so objects that admission never saw (written
 * before the webhook, in warn mode, or broken later by a grant's deletion)
 * show up where Policy Reporter and `kubectl get reports` look. Written with
 * server-side apply, only while this replica holds the Lease.
 */
export class PolicyReportWriter {
  private timer: NodeJS.Timeout | undefined;
  /** When the first change the pending scan folds in came. */
  private pendingSince: number | undefined;
  private resync: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  /** Hash of each namespace's results as last applied, so an unchanged report is not written again. */
  private readonly applied = new Map<string, string>();

  constructor(private readonly options: PolicyReportWriterOptions) {}

  start(): void {
    this.stopped = false;
    this.resync = setInterval(() => this.changed(), this.options.resyncMs ?? 300_000);
    this.resync.unref();
    this.changed();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.resync) clearInterval(this.resync);
  }

  /** Something the reports depend on changed: scan once things settle, or once the longest wait is up. */
  changed(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    const now = Date.now();
    this.pendingSince ??= now;
    const untilMax = this.pendingSince + (this.options.maxDelayMs ?? 10_000) - now;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.pendingSince = undefined;
        void this.scan();
      },
      Math.max(0, Math.min(this.options.debounceMs ?? 2_000, untilMax)),
    );
    this.timer.unref();
  }

  /** After leadership changes hands, the new leader rewrites everything it has not written itself. */
  forget(): void {
    this.applied.clear();
  }

  async scan(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.scanOnce().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.changed();
      }
    });
    return this.running;
  }

  private async scanOnce(): Promise<void> {
    // Only the leader scans: the others' findings would be the same, at the same cost.
    if (!this.options.isLeader()) return;
    let results: Map<string, ReportResult[]>;
    try {
      const objects = [...this.options.objects()];
      const findings = auditObjects(objects, this.options.ruleSet, this.options.settings, this.options.view);
      results = reportResults(objects, findings, this.options.settings, this.options.view);
    } catch (error) {
      this.options.logger.warn({ err: error }, 'policy reports: the audit failed; keeping the last reports');
      return;
    }
    this.options.onScan?.(results);
    const existing = await this.existingReports().catch((error: unknown) => {
      this.options.logger.warn({ err: error }, 'policy reports: could not list our Reports; stale ones are removed next scan');
      return [] as string[];
    });
    for (const [namespace, list] of results) {
      if (!this.options.isLeader() || this.stopped) return;
      await this.apply(namespace, list);
    }
    for (const namespace of existing) {
      if (results.has(namespace) || !this.options.isLeader()) continue;
      await this.remove(namespace);
    }
  }

  private reportPath(namespace: string, name?: string): string {
    const base = apiPath('apis', REPORT_API.group, REPORT_API.version, 'namespaces', namespace, REPORT_API.plural);
    return name ? `${base}/${encodeURIComponent(name)}` : base;
  }

  /** Namespaces holding a report of ours: listed by our label, metadata only. */
  private async existingReports(): Promise<string[]> {
    const namespaces: string[] = [];
    await this.options.api.listPages(
      apiPath('apis', REPORT_API.group, REPORT_API.version, REPORT_API.plural),
      (items) => {
        for (const item of items as KubeObject[]) if (item.metadata?.name === REPORT_NAME && item.metadata.namespace) namespaces.push(item.metadata.namespace);
      },
      { labelSelector: OURS, metadataOnly: true },
    );
    return namespaces;
  }

  private async apply(namespace: string, results: ReportResult[]): Promise<void> {
    const hash = createHash('sha256').update(JSON.stringify(results)).digest('hex');
    if (this.applied.get(namespace) === hash) {
      this.options.onWrite?.('unchanged');
      return;
    }
    const seconds = Math.floor(Date.now() / 1000);
    const body = {
      apiVersion: `${REPORT_API.group}/${REPORT_API.version}`,
      kind: 'Report',
      metadata: { name: REPORT_NAME, namespace, labels: MANAGED_BY },
      source: REPORT_SOURCE,
      summary: summarize(results),
      results: results.map((r) => ({ ...r, timestamp: { seconds, nanos: 0 } })),
    };
    const res = await this.options.api.request('PATCH', `${this.reportPath(namespace, REPORT_NAME)}?fieldManager=${FIELD_MANAGER}&force=true`, body, 'application/apply-patch+yaml');
    if (res.status !== 200 && res.status !== 201) {
      this.options.onWrite?.('failed');
      this.options.logger.warn({ namespace, status: res.status, message: res.text.slice(0, 300) }, 'policy reports: could not apply the report');
      return;
    }
    this.applied.set(namespace, hash);
    this.options.onWrite?.('applied');
  }

  private async remove(namespace: string): Promise<void> {
    const res = await this.options.api.request('DELETE', this.reportPath(namespace, REPORT_NAME));
    this.applied.delete(namespace);
    this.options.onWrite?.(res.status === 200 || res.status === 404 ? 'deleted' : 'failed');
  }
}
