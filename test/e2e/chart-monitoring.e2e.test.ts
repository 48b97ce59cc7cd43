// The chart's optional alerts and dashboard (monitoring.*), checked by the
// tools that read them: promtool (built from the Prometheus Go module) checks
// the PrometheusRule's rules and runs unit tests that make each alert fire and
// stay quiet; kube-apiserver with prometheus-operator's CRD stores the
// PrometheusRule; and every metric an alert or a dashboard panel names is one
// the server's /metrics exports. On a chart target (node, kind) that last
// check reads /metrics of the chart's pods; the rest is the same everywhere and
// runs on the process target.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { CHART_DIR, find, helmBinary, installCrdFiles, prometheusRuleCrdFile, renderChart, runHelm, serverSideApply, ensureNamespace, valuesArgs, type KubeObject } from '../chart/support.js';
import { startControlPlane, type ControlPlane } from '../../harness/index.ts';
import { describeOnlyOn, e2eTarget, onlyOn } from '../support/e2eTarget.js';
import { requirePromtool, runPromtool } from '../support/promtool.js';
import { startInProcessWebhook } from '../support/webhookInProcess.js';

const target = await e2eTarget();
const skip = target.skip;
const SAME_EVERYWHERE = 'it renders the chart and checks what it renders, nothing that depends on where the server runs';
const promtool = skip || target.name !== 'process' ? { skip: skip ?? SAME_EVERYWHERE } : await requirePromtool();

const RELEASE = 'mon';
const NAMESPACE = 'kga-mon';
const JOB = `${RELEASE}-kgateway-admission`;
const SELECTOR = `job="${JOB}", namespace="${NAMESPACE}"`;
const VALUES = { monitoring: { prometheusRule: { enabled: true, labels: { release: 'prometheus' } }, dashboard: { enabled: true, annotations: { grafana_folder: 'Gateways' } } } };

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

// PromQL's (and Grafana's label_values) words that are not metric names.
const PROMQL_WORDS = new Set(
  'sum min max avg count stddev stdvar topk bottomk quantile count_values group by without on ignoring group_left group_right and or unless offset bool rate irate increase delta idelta deriv histogram_quantile vector scalar time absent absent_over_time abs ceil floor round clamp_min clamp_max label_replace label_join sort sort_desc predict_linear min_over_time max_over_time avg_over_time sum_over_time count_over_time last_over_time changes resets timestamp label_values'.split(' '),
);

/** The metric names a PromQL expression reads: what is left once strings, matchers, ranges, groupings and functions are taken out. */
export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\boffset\s+-?[\dsmhdwy]+/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/label_values\(\s*([A-Za-z_:][\w:]*)[^)]*\)/g, ' $1 ')
    .replace(/\$\w+/g, ' ');
  const names = (stripped.match(/[A-Za-z_:][\w:]*/g) ?? []).filter((w) => !PROMQL_WORDS.has(w) && !/^(e|inf|nan)$/i.test(w));
  return [...new Set(names)];
}

describeOnlyOn(target, ['process'], SAME_EVERYWHERE)('metricNamesIn', () => {
  it('finds metric names and nothing else', () => {
    expect(
      metricNamesIn(
        'histogram_quantile(0.99, sum by (le, endpoint) (rate(kgateway_admission_request_duration_seconds_bucket{job=~"$job", endpoint="mutate"}[$__rate_interval]))) > 0.8 * 5 or (sum(up{a="b"}) or vector(0)) < 1 and time() - process_start_time_seconds offset 1h',
      ),
    ).toEqual(['kgateway_admission_request_duration_seconds_bucket', 'up', 'process_start_time_seconds']);
    expect(metricNamesIn('label_values(kgateway_admission_ready{namespace=~"$namespace"}, job)')).toEqual(['kgateway_admission_ready']);
  });
});

describe.skipIf(skip)('chart monitoring: alerts and dashboard', () => {
  let helm: string;
  let work: string;
  let rendered: KubeObject[];
  let rules: Rule[];
  let dashboard: { panels: { title: string; targets: { expr: string }[] }[]; templating: { list: { query?: unknown }[] } };
  let cp: ControlPlane | undefined;

  beforeAll(async () => {
    helm = await helmBinary();
    work = await mkdtemp(join(tmpdir(), 'kga-monitoring-'));
    rendered = await renderChart(helm, RELEASE, NAMESPACE, VALUES);
    const rule = find(rendered, 'PrometheusRule');
    rules = (rule.spec.groups as { rules: Rule[] }[]).flatMap((g) => g.rules);
    const configMap = rendered.find((o) => o.kind === 'ConfigMap' && o.metadata.labels?.grafana_dashboard === '1');
    if (!configMap) throw new Error('no ConfigMap labelled grafana_dashboard: "1"');
    dashboard = JSON.parse(configMap.data['kgateway-admission.json']);
  });

  afterAll(async () => {
    await cp?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  onlyOn(target, ['process'], SAME_EVERYWHERE)('renders neither by default, and both when enabled (helm lint --strict passes)', async () => {
    const plain = await renderChart(helm, RELEASE, NAMESPACE);
    expect(plain.filter((o) => o.kind === 'PrometheusRule' || o.metadata.labels?.grafana_dashboard)).toEqual([]);
    const lint = await runHelm(helm, ['lint', '--strict', CHART_DIR, '--namespace', NAMESPACE, ...(await valuesArgs(VALUES))]);
    expect(lint.code, lint.stdout + lint.stderr).toBe(0);
    expect(find(rendered, 'PrometheusRule').metadata.labels).toMatchObject({ release: 'prometheus' });
    const configMap = find(rendered, 'ConfigMap', `${JOB}-dashboard`);
    expect(configMap.metadata).toMatchObject({ namespace: NAMESPACE, labels: { grafana_dashboard: '1' }, annotations: { grafana_folder: 'Gateways' } });
    expect(rules.map((r) => r.alert).sort()).toEqual([
      'KgatewayAdmissionCertificateExpiring',
      'KgatewayAdmissionDenialRateJump',
      'KgatewayAdmissionLatencyNearTimeout',
      'KgatewayAdmissionNoReadyReplica',
      'KgatewayAdmissionWatchErrors',
      'KgatewayAdmissionWatchRelists',
      'KgatewayAdmissionWebhookNotReady',
    ]);
    for (const rule of rules) expect(rule.expr, rule.alert).toContain(SELECTOR);
  });

  onlyOn(target, ['process'], SAME_EVERYWHERE).each([
    [{ monitoring: { prometheusRule: { enabled: 'yes' } } }, "at '/monitoring/prometheusRule/enabled'"],
    [{ monitoring: { prometheusRule: { latencyThresholdRatio: 2 } } }, "at '/monitoring/prometheusRule/latencyThresholdRatio'"],
    [{ monitoring: { selector: '{job="x"}' } }, "at '/monitoring/selector'"],
    [{ monitoring: { dashboard: { labels: { team: 1 } } } }, "at '/monitoring/dashboard/labels/team'"],
    [{ monitoring: { dashbord: { enabled: true } } }, "additional properties 'dashbord' not allowed"],
  ])('a wrong value fails: %j', async (values, message) => {
    const res = await runHelm(helm, ['template', 'bad', CHART_DIR, ...(await valuesArgs(values))]);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain(message);
  });

  it('every metric an alert or a panel names is one the server exports on /metrics', async () => {
    const exportedBy = (text: string) =>
      [...text.matchAll(/^# TYPE (\S+) (\w+)$/gm)].flatMap(([, name, type]) =>
        type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : type === 'summary' ? [name!, `${name}_sum`, `${name}_count`] : [name!],
      );
    let exported: Set<string>;
    if (target.name === 'process') {
      const webhook = await startInProcessWebhook({ manifests: ['examples'] });
      try {
        exported = new Set(exportedBy(await (await fetch(`${webhook.server.metricsUrl}/metrics`)).text()));
      } finally {
        await webhook.server.close();
      }
    } else {
      // The chart's pods, as Prometheus would scrape them.
      const cluster = await target.startCluster();
      const webhook = await target.startWebhook(cluster);
      const texts = await webhook.metricsText();
      expect(texts.length).toBeGreaterThanOrEqual(2);
      // Every replica exports every name.
      const perReplica = texts.map((t) => new Set(exportedBy(t)));
      exported = new Set([...perReplica[0]!].filter((name) => perReplica.every((names) => names.has(name))));
      await webhook.release();
    }
    const named = new Map<string, string>();
    for (const rule of rules) for (const name of metricNamesIn(rule.expr)) named.set(name, `alert ${rule.alert}`);
    for (const panel of dashboard.panels) {
      expect(panel.targets.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets) for (const name of metricNamesIn(target.expr)) named.set(name, `panel ${panel.title}`);
    }
    for (const variable of dashboard.templating.list) {
      const query = variable.query as { query?: string } | string | undefined;
      const text = typeof query === 'string' ? query : query?.query;
      if (text && text.includes('(')) for (const name of metricNamesIn(text)) named.set(name, 'dashboard variable');
    }
    expect(named.size).toBeGreaterThan(8);
    const missing = [...named].filter(([name]) => !exported.has(name)).map(([name, where]) => `${name} (${where})`);
    expect(missing).toEqual([]);
  });

  (target.name === 'process' ? it.skipIf(promtool.skip) : onlyOn(target, ['process'], SAME_EVERYWHERE))('promtool check rules accepts the rules, and promtool test rules makes each alert fire and stay quiet', async () => {
    const rulesFile = join(work, 'rules.yaml');
    await writeFile(rulesFile, stringify(find(rendered, 'PrometheusRule').spec));
    const check = await runPromtool(promtool, ['check', 'rules', 'rules.yaml'], work, ['rules.yaml']);
    expect(check.code, check.output).toBe(0);
    expect(check.output).toContain(`SUCCESS: ${rules.length} rules found`);

    // Annotations hold templates of the firing values; the unit tests check the expressions and labels.
    const bare = { groups: (find(rendered, 'PrometheusRule').spec.groups as { name: string; rules: Rule[] }[]).map((g) => ({ ...g, rules: g.rules.map(({ annotations: _a, ...r }) => r) })) };
    await writeFile(join(work, 'bare-rules.yaml'), stringify(bare));
    const s = (name: string, labels: Record<string, string> = {}) =>
      `${name}{${[SELECTOR, ...Object.entries(labels).map(([k, v]) => `${k}="${v}"`)].join(', ')}}`;
    const alert = (name: string, at: string, labels: Record<string, string>[] = []) => ({
      eval_time: at,
      alertname: name,
      exp_alerts: labels.map((l) => ({ exp_labels: { severity: 'warning', ...l } })),
    });
    const tests = {
      rule_files: ['bare-rules.yaml'],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: [
            { series: s('kgateway_admission_ready', { pod: 'a' }), values: '0x20' },
            { series: s('kgateway_admission_certificate_expiry_timestamp_seconds', { pod: 'a' }), values: `${3 * 86400}x20` },
            { series: s('kgateway_admission_watch_errors_total', { pod: 'a', resource: 'referencegrants' }), values: '0+1x20' },
            { series: s('kgateway_admission_watch_lists_total', { pod: 'a', resource: 'referencegrants', reason: 'relist' }), values: '0+1x20' },
            { series: s('kgateway_admission_request_duration_seconds_bucket', { endpoint: 'mutate', le: '1' }), values: '0x20' },
            { series: s('kgateway_admission_request_duration_seconds_bucket', { endpoint: 'mutate', le: '5' }), values: '0+600x20' },
            { series: s('kgateway_admission_request_duration_seconds_bucket', { endpoint: 'mutate', le: '+Inf' }), values: '0+600x20' },
          ],
          alert_rule_test: [
            alert('KgatewayAdmissionNoReadyReplica', '1m'),
            { ...alert('KgatewayAdmissionNoReadyReplica', '3m'), exp_alerts: [{ exp_labels: { severity: 'critical' } }] },
            alert('KgatewayAdmissionWebhookNotReady', '3m'),
            alert('KgatewayAdmissionWebhookNotReady', '6m', [{ namespace: NAMESPACE, pod: 'a' }]),
            alert('KgatewayAdmissionCertificateExpiring', '5m', [{ namespace: NAMESPACE, pod: 'a' }]),
            alert('KgatewayAdmissionWatchErrors', '2m'),
            alert('KgatewayAdmissionWatchErrors', '15m', [{ namespace: NAMESPACE, pod: 'a', resource: 'referencegrants' }]),
            alert('KgatewayAdmissionWatchRelists', '15m', [{ namespace: NAMESPACE, pod: 'a', resource: 'referencegrants' }]),
            // p99 about 4.96 s, over 0.8 x the 5 s timeout, for 10 minutes.
            alert('KgatewayAdmissionLatencyNearTimeout', '5m'),
            alert('KgatewayAdmissionLatencyNearTimeout', '15m', [{}]),
            alert('KgatewayAdmissionDenialRateJump', '15m'),
          ],
        },
        {
          interval: '1m',
          input_series: [
            { series: s('kgateway_admission_ready', { pod: 'a' }), values: '1x20' },
            { series: s('kgateway_admission_ready', { pod: 'b' }), values: '1x20' },
            { series: s('kgateway_admission_certificate_expiry_timestamp_seconds', { pod: 'a' }), values: `${30 * 86400}x20` },
            { series: s('kgateway_admission_watch_errors_total', { pod: 'a', resource: 'referencegrants' }), values: '0+0x20' },
            { series: s('kgateway_admission_request_duration_seconds_bucket', { endpoint: 'validate', le: '0.01' }), values: '0+600x20' },
            { series: s('kgateway_admission_request_duration_seconds_bucket', { endpoint: 'validate', le: '+Inf' }), values: '0+600x20' },
          ],
          alert_rule_test: ['KgatewayAdmissionNoReadyReplica', 'KgatewayAdmissionWebhookNotReady', 'KgatewayAdmissionCertificateExpiring', 'KgatewayAdmissionWatchErrors', 'KgatewayAdmissionLatencyNearTimeout'].map((name) =>
            alert(name, '15m'),
          ),
        },
        {
          // Six quiet hours with a denial a minute, then two a second.
          interval: '1m',
          input_series: [
            { series: s('kgateway_admission_requests_total', { endpoint: 'validate', kind: 'HTTPListenerPolicy', operation: 'CREATE', decision: 'denied' }), values: '0+1x400 400+120x30' },
          ],
          alert_rule_test: [alert('KgatewayAdmissionDenialRateJump', '398m'), alert('KgatewayAdmissionDenialRateJump', '420m', [{}])],
        },
      ],
    };
    const testsFile = join(work, 'rules.test.yaml');
    await writeFile(testsFile, stringify(tests));
    const run = await runPromtool(promtool, ['test', 'rules', 'rules.test.yaml'], work, ['rules.test.yaml', 'bare-rules.yaml']);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain('SUCCESS');
  });

  onlyOn(target, ['process'], SAME_EVERYWHERE)('kube-apiserver with prometheus-operator\'s CRD stores the PrometheusRule, and the dashboard ConfigMap', async () => {
    cp = await startControlPlane();
    await installCrdFiles(cp.kubeConfig, [await prometheusRuleCrdFile()]);
    await ensureNamespace(cp.kubeConfig, NAMESPACE);
    for (const object of [find(rendered, 'PrometheusRule'), find(rendered, 'ConfigMap', `${JOB}-dashboard`)]) {
      const stored = await serverSideApply(cp.kubeConfig, object, NAMESPACE);
      expect(stored.metadata.name).toBe(object.metadata.name);
    }
  });
});
