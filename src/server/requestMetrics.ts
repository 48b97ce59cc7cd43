import type { Registry } from 'prom-client';

export type RequestLabel = 'endpoint' | 'kind' | 'operation' | 'decision';
export type RequestLabels = Record<RequestLabel, string>;

/** One label set's figures: its count, sum of seconds and per-bucket counts (not cumulative; the last is above every bound). */
export interface RequestSeries {
  readonly labels: Readonly<RequestLabels>;
  count: number;
  sum: number;
  readonly buckets: Float64Array;
}

interface MetricValue {
  labels: Record<string, string | number>;
  sharedLabels?: Record<string, string>;
  value: number;
  metricName?: string;
}

/**
 * kgateway_admission_requests_total and
 * kgateway_admission_request_duration_seconds kept per label set in plain
 * fields, and read by prom-client's registry at scrape time (its metric
 * interface: name, help, type, get()). prom-client's own Counter and Histogram
 * check the label names and build a key string of every label on each inc()
 * and observe(), twice per request, and a labelled child does the same work;
 * here a request costs one Map look-up of a short key and a few additions
 * (bench/README.md, "What changed in src/ because of this bench"). The
 * exposition is prom-client's, line for line.
 */
export class RequestMetrics {
  private readonly series = new Map<string, RequestSeries>();
  readonly requests: { name: string; help: string; type: 'counter'; aggregator: 'sum'; get(): Promise<{ name: string; help: string; type: string; values: MetricValue[]; aggregator: string }>; reset(): void };
  readonly duration: {
    name: string;
    help: string;
    type: 'histogram';
    aggregator: 'sum';
    getForPromString(): Promise<{ name: string; help: string; type: string; values: MetricValue[]; aggregator: string }>;
    get(): Promise<{ name: string; help: string; type: string; values: MetricValue[]; aggregator: string }>;
    reset(): void;
  };

  constructor(
    registry: Registry,
    names: { requests: string; requestsHelp: string; duration: string; durationHelp: string },
    private readonly bounds: readonly number[],
  ) {
    const reset = () => this.series.clear();
    const all = () => [...this.series.values()];
    this.requests = {
      name: names.requests,
      help: names.requestsHelp,
      type: 'counter',
      aggregator: 'sum',
      get: async () => ({
        name: names.requests,
        help: names.requestsHelp,
        type: 'counter',
        values: all().map((s) => ({ labels: { ...s.labels }, value: s.count })),
        aggregator: 'sum',
      }),
      reset,
    };
    const histogramValues = (): MetricValue[] => {
      const values: MetricValue[] = [];
      const bucket = `${names.duration}_bucket`;
      for (const s of all()) {
        let cumulative = 0;
        for (let i = 0; i < bounds.length; i++) {
          cumulative += s.buckets[i]!;
          values.push({ labels: { le: bounds[i]! }, sharedLabels: s.labels, value: cumulative, metricName: bucket });
        }
        values.push(
          { labels: { le: '+Inf' }, sharedLabels: s.labels, value: s.count, metricName: bucket },
          { labels: {}, sharedLabels: s.labels, value: s.sum, metricName: `${names.duration}_sum` },
          { labels: {}, sharedLabels: s.labels, value: s.count, metricName: `${names.duration}_count` },
        );
      }
      return values;
    };
    const histogram = (values: MetricValue[]) => ({ name: names.duration, help: names.durationHelp, type: 'histogram', values, aggregator: 'sum' });
    this.duration = {
      name: names.duration,
      help: names.durationHelp,
      type: 'histogram',
      aggregator: 'sum',
      getForPromString: async () => histogram(histogramValues()),
      get: async () =>
        histogram(histogramValues().map(({ labels, sharedLabels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } }))),
      reset,
    };
    registry.registerMetric(this.requests as never);
    registry.registerMetric(this.duration as never);
  }

  /** The series of a label set, made on first use. */
  seriesOf(endpoint: string, kind: string, operation: string, decision: string): RequestSeries {
    const key = `${endpoint} ${kind} ${operation} ${decision}`;
    let s = this.series.get(key);
    if (s === undefined) {
      s = { labels: { endpoint, kind, operation, decision }, count: 0, sum: 0, buckets: new Float64Array(this.bounds.length + 1) };
      this.series.set(key, s);
    }
    return s;
  }

  observe(s: RequestSeries, seconds: number): void {
    s.count++;
    s.sum += seconds;
    const bounds = this.bounds;
    let i = 0;
    // Buckets are inclusive upper bounds, as Prometheus' (and prom-client's) le.
    while (i < bounds.length && seconds > bounds[i]!) i++;
    s.buckets[i]!++;
  }
}
