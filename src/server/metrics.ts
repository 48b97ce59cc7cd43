import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { RequestMetrics, type RequestLabels } from './requestMetrics.js';

const OPERATIONS = new Set(['CREATE', 'UPDATE', 'DELETE', 'CONNECT', 'unknown']);

/** Prometheus metrics of the webhook, served on their own plain-HTTP port. */
export class AdmissionMetrics {
  readonly registry = new Registry();
  private readonly requestMetrics = new RequestMetrics(
    this.registry,
    {
      requests: 'kgateway_admission_requests_total',
      requestsHelp: 'Admission reviews answered, by endpoint, kind, operation and decision.',
      duration: 'kgateway_admission_request_duration_seconds',
      durationHelp: 'Time from a parsed AdmissionReview to its response, by endpoint, kind, operation and decision.',
    },
    // Up to the API server's longest webhook timeout (30 s), so a p99 near the
    // chart's timeoutSeconds (default 5) is seen, not clamped at the top bucket.
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5, 5, 10, 30],
  );
  readonly requests = this.requestMetrics.requests;
  readonly duration = this.requestMetrics.duration;

  readonly watchLists = new Counter({
    name: 'kgateway_admission_watch_lists_total',
    help: 'Full lists of a watched resource: the first one, and re-lists after a watch expired (410 Gone) or failed.',
    labelNames: ['resource', 'reason'] as const,
    registers: [this.registry],
  });
  readonly watchErrors = new Counter({
    name: 'kgateway_admission_watch_errors_total',
    help: 'Watch or list failures of a watched resource; each is followed by a restart with backoff.',
    labelNames: ['resource'] as const,
    registers: [this.registry],
  });
  readonly denialConfirmations = new Counter({
    name: 'kgateway_admission_denial_confirmations_total',
    help: 'Live re-reads of ReferenceGrants before a denial: confirmed (still denied), overturned (now allowed), failed (a re-read failed, denied), skipped (rate-limited: denied on the cached view).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly grantRereads = new Counter({
    name: 'kgateway_admission_grant_rereads_total',
    help: 'Namespaces whose ReferenceGrants a denial asked to read again: listed (a new LIST), shared (joined a LIST another request started), request-limit (past 8 in one request), rate-limit (no token left), failed.',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly events = new Counter({
    name: 'kgateway_admission_events_total',
    help: 'Warning events (events.k8s.io/v1) from admission: recorded, rate-limited (per object or in all), dropped (the write did not take effect), failed.',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly findings = new Gauge({
    name: 'kgateway_admission_findings',
    help: 'Policy report results of the last scan (serve --reports), by rule, result (pass, fail, warn) and namespace.',
    labelNames: ['rule', 'result', 'namespace'] as const,
    registers: [this.registry],
  });
  readonly reportsLeader = new Gauge({
    name: 'kgateway_admission_reports_leader',
    help: '1 on the replica that holds the reports Lease and writes the policy reports (serve --reports), else 0.',
    registers: [this.registry],
  });
  readonly reportWrites = new Counter({
    name: 'kgateway_admission_report_writes_total',
    help: 'Policy report writes by this replica: applied (server-side apply), deleted, unchanged (skipped), failed.',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  /** Kinds that keep their name as a label; every other kind is counted as "other". */
  private readonly kinds: ReadonlySet<string>;
  readonly certificateExpiry = new Gauge({
    name: 'kgateway_admission_certificate_expiry_timestamp_seconds',
    help: 'Expiry (notAfter, Unix seconds) of the serving certificate in use; updated when it is reloaded.',
    registers: [this.registry],
  });
  private readiness: () => boolean = () => false;
  readonly ready = new Gauge({
    name: 'kgateway_admission_ready',
    help: '1 when /readyz answers 200 (listening, every watch synced), else 0.',
    registers: [this.registry],
    collect: () => {
      this.ready.set(this.readiness() ? 1 : 0);
    },
  });

  /** What kgateway_admission_ready reports at each scrape. */
  trackReadiness(isReady: () => boolean): void {
    this.readiness = isReady;
  }

  constructor(options: { defaultMetrics?: boolean; kinds?: Iterable<string> } = {}) {
    // No prefix: dashboards and alerts that ship with Grafana, kube-prometheus
    // and the Node.js mixins query process_* and nodejs_* by these names.
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.kinds = new Set([...(options.kinds ?? []), 'unknown']);
  }

  observe(labels: RequestLabels, seconds: number): void {
    const series = this.requestMetrics.seriesOf(
      labels.endpoint,
      // The kind comes from the request: any client that reaches the port
      // could otherwise mint a series per request, or, were the first kinds
      // seen kept, push the real ones into "other" with a few junk kinds.
      this.kinds.has(labels.kind) ? labels.kind : 'other',
      OPERATIONS.has(labels.operation) ? labels.operation : 'other',
      labels.decision,
    );
    this.requestMetrics.observe(series, seconds);
  }
}

/** The request handler of the metrics port: GET /metrics, 404 for anything else. */
export function metricsHandler(registry: Registry): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (req.method !== 'GET' || (req.url !== '/metrics' && !req.url?.startsWith('/metrics?'))) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are served at GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (error: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${String(error)}\n`),
    );
  };
}
