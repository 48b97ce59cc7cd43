// A steady load of writes through the API server, the kinds the chart's
// webhooks see: Gateways (mutated: each must come back with the
// parametersRef), HTTPListenerPolicies with a same-namespace backendRef
// (validated, admitted) and with an ungranted cross-namespace one (validated,
// denied by the webhook). Every write whose answer is not the one the webhook
// gives when it works counts as a failure, with its message: an API server
// error, a webhook the API server could not call, a Gateway admitted without
// the mutation, a policy admitted that should have been denied.
import type { KubeConfig } from '@kubernetes/client-node';
import { backendRef, gateway, httpListenerPolicy } from './builders.js';
import { kubeRequest } from '../../harness/index.ts';
import { mutatingWebhookAnswered } from './gatewayMutation.js';

export type LoadKind = 'gateway' | 'policy-admitted' | 'policy-denied';
export const LOAD_KINDS: readonly LoadKind[] = ['gateway', 'policy-admitted', 'policy-denied'];

export interface WriteFailure {
  /** Milliseconds after the load started. */
  atMs: number;
  kind: LoadKind;
  status: number;
  message: string;
}

export interface LoadReport {
  writes: number;
  failures: WriteFailure[];
  durationMs: number;
  /** Writes answered per second over the duration. */
  ratePerSecond: number;
  latencyMs: { p50: number; p99: number; max: number };
  byKind: Record<LoadKind, { writes: number; failures: number }>;
}

export interface WriteLoad {
  /** Failures so far (the load goes on). */
  readonly failures: readonly WriteFailure[];
  /** Writes answered so far. */
  readonly writes: number;
  /** Stops issuing, waits for the writes in flight, and reports. */
  stop(): Promise<LoadReport>;
}

export interface WriteLoadOptions {
  /** Namespace of the objects (must exist, and not be excluded from the webhooks). */
  namespace: string;
  /** Writes per second, spread over the kinds in turn. */
  ratePerSecond?: number;
  kinds?: readonly LoadKind[];
  /** Per-write timeout; the webhooks' own is 5 s. */
  timeoutMs?: number;
  /** Prefix of object names, so two loads never collide. */
  namePrefix?: string;
}

interface Write {
  path: string;
  body: unknown;
  /** Why the answer is not the working webhook's, or undefined when it is. */
  check: (status: number, body: any, warnings: string[]) => string | undefined;
}

function apiMessage(body: any, text: string): string {
  return typeof body === 'object' && body !== null && typeof body.message === 'string' ? body.message : text.slice(0, 500);
}

function writeFor(kind: LoadKind, namespace: string, name: string): Write {
  switch (kind) {
    case 'gateway':
      return {
        path: `/apis/gateway.networking.k8s.io/v1/namespaces/${namespace}/gateways`,
        body: gateway({ name, namespace }),
        check: (status, body, warnings) => {
          if (status !== 201) return `expected 201, got ${status}`;
          return mutatingWebhookAnswered({ status, body, warnings }) ? undefined : 'admitted without the parametersRef or its warning (the mutating webhook was not applied)';
        },
      };
    case 'policy-admitted':
      return {
        path: `/apis/gateway.kgateway.dev/v1alpha1/namespaces/${namespace}/httplistenerpolicies`,
        body: httpListenerPolicy({ name, namespace, otelAccessLogRefs: [backendRef({ namespace })] }),
        check: (status) => (status === 201 ? undefined : `expected 201, got ${status}`),
      };
    case 'policy-denied':
      return {
        path: `/apis/gateway.kgateway.dev/v1alpha1/namespaces/${namespace}/httplistenerpolicies`,
        body: httpListenerPolicy({ name, namespace, otelAccessLogRefs: [backendRef({ namespace: 'monitoring' })] }),
        check: (status, body) => {
          if (status !== 403) return `expected 403 (denied by the webhook), got ${status}`;
          return String(body?.message ?? '').includes('denied the request') ? undefined : 'a 403 that is not the webhook\'s denial';
        },
      };
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/**
 * Starts writing at `ratePerSecond` (default 30) until stop(). The schedule
 * follows the clock, not the answers: a slow answer does not slow the load
 * (up to 500 writes in flight, beyond which a write counts as failed).
 */
export function startWriteLoad(kc: KubeConfig, options: WriteLoadOptions): WriteLoad {
  const rate = options.ratePerSecond ?? 30;
  const kinds = options.kinds ?? LOAD_KINDS;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const prefix = options.namePrefix ?? `load-${Date.now().toString(36)}`;
  if (!/^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$/.test(prefix)) throw new Error(`startWriteLoad: namePrefix ${JSON.stringify(prefix)} is not the start of a Kubernetes name (lower case letters, digits, '-')`);
  const started = performance.now();
  const failures: WriteFailure[] = [];
  const latencies: number[] = [];
  const byKind = Object.fromEntries(LOAD_KINDS.map((k) => [k, { writes: 0, failures: 0 }])) as LoadReport['byKind'];
  const inFlight = new Set<Promise<void>>();
  let issued = 0;
  let answered = 0;
  let stoppedAt: number | undefined;

  const fail = (kind: LoadKind, status: number, message: string, atMs: number): void => {
    failures.push({ atMs: Math.round(atMs), kind, status, message });
    byKind[kind].failures++;
  };

  const issue = (n: number): void => {
    const kind = kinds[n % kinds.length]!;
    const atMs = performance.now() - started;
    if (inFlight.size >= 500) {
      answered++;
      byKind[kind].writes++;
      fail(kind, 0, 'not sent: 500 writes already in flight', atMs);
      return;
    }
    const write = writeFor(kind, options.namespace, `${prefix}-${n}`);
    const t0 = performance.now();
    const p = kubeRequest(kc, 'POST', write.path, { body: write.body, timeoutMs })
      .then(
        (res) => {
          const why = write.check(res.status, res.body, res.warnings);
          if (why) fail(kind, res.status, `${why}: ${apiMessage(res.body, res.text)}`, atMs);
        },
        (error: unknown) => fail(kind, 0, `request failed: ${(error as Error).message}`, atMs),
      )
      .finally(() => {
        latencies.push(performance.now() - t0);
        answered++;
        byKind[kind].writes++;
        inFlight.delete(p);
      });
    inFlight.add(p);
  };

  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - started) / 1000) * rate);
    while (issued < due) issue(issued++);
  }, 10);

  return {
    get failures() {
      return failures;
    },
    get writes() {
      return answered;
    },
    async stop() {
      if (stoppedAt === undefined) {
        clearInterval(timer);
        stoppedAt = performance.now();
      }
      await Promise.all([...inFlight]);
      const durationMs = stoppedAt - started;
      const sorted = [...latencies].sort((a, b) => a - b);
      return {
        writes: answered,
        failures: [...failures],
        durationMs: Math.round(durationMs),
        ratePerSecond: Math.round((answered / (durationMs / 1000)) * 10) / 10,
        latencyMs: { p50: Math.round(percentile(sorted, 50)), p99: Math.round(percentile(sorted, 99)), max: Math.round(sorted.at(-1) ?? 0) },
        byKind,
      };
    },
  };
}

/** One line for the test output and the README's figures. */
export function describeLoad(what: string, report: LoadReport): string {
  const first = report.failures.slice(0, 5).map((f) => `\n    at ${f.atMs} ms ${f.kind} ${f.status}: ${f.message}`).join('');
  return (
    `[e2e] ${what}: ${report.writes} writes in ${(report.durationMs / 1000).toFixed(1)} s (${report.ratePerSecond}/s), ` +
    `${report.failures.length} failed, latency p50 ${report.latencyMs.p50} ms p99 ${report.latencyMs.p99} ms max ${report.latencyMs.max} ms${first}\n`
  );
}
