// Where an e2e suite's webhook runs. One suite, several targets (vitest
// projects, see vitest.config.ts):
//   process  today's server process beside a test control plane (fast runs; project e2e)
//   kind     the chart's pods in a kind cluster (project e2e-kind, npm run test:kind)
// A suite asks for a cluster and a webhook through this interface and never
// learns which one it got, except through `target.name` for the cases that
// only one kind of target can show (see `onlyOn`).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { describe, inject, it } from 'vitest';
import {
  registerWebhooks,
  requireControlPlane,
  startControlPlane,
  startWebhookServer,
  unregisterWebhooks,
  type ControlPlane,
  type WebhookServer,
} from '../../harness/index.ts';
import { httpsRequest } from './https.js';

export type TargetName = 'process' | 'kind';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Set by the globalSetup of the chart target's project (test/support/kindTarget.ts). */
    e2eTarget: { name: TargetName; skip?: string; requiredButMissing?: boolean };
  }
}

export interface E2eCluster {
  kubeConfig: KubeConfig;
  kubeconfigPath: string;
  /** The API server's URL as the kubeconfig names it. */
  server: string;
  /** The test control plane when the target is the process (undefined on a chart target). */
  controlPlane?: ControlPlane;
  /** The installed chart on a chart target (undefined for the process). */
  chart?: { release: string; namespace: string; fullname: string };
  stop(): Promise<void>;
}

export interface StartClusterOptions {
  /** Namespaces the suite uses: made fresh (on a shared cluster, deleted first with all they hold). */
  namespaces?: string[];
  /** GatewayClasses the suite creates: deleted first on a shared cluster. */
  gatewayClasses?: string[];
  /** Namespaces where no webhook may be called (objects made "without the webhook", as for audit). */
  withoutWebhookIn?: string[];
}

export interface StartWebhookOptions {
  /** --profile / config.profile; undefined: the server picks it from the CRDs. */
  profile?: string;
  /**
   * The server's config (src/config/config.schema.json): a --config file for
   * the process, the chart's `config` value (merged over its defaults) on a chart target.
   */
  config?: Record<string, unknown>;
  /** Further chart values (chart targets only; the process target has no chart). */
  chartValues?: Record<string, unknown>;
}

export interface ReplicaAnswer {
  status: number;
  text: string;
  json(): any;
}

export interface WebhookUnderTest {
  /** How many servers answer (1 for the process, replicaCount for the chart). */
  replicas: number;
  /** The /metrics text of each replica. */
  metricsText(): Promise<string[]>;
  /** What each replica logged so far. */
  logs(): Promise<string[]>;
  /** A metric summed over every replica. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** A metric of each replica. */
  metricPerReplica(name: string, labels?: Record<string, string>): Promise<number[]>;
  /** POSTs an AdmissionReview to `path` of every replica directly (not through the API server's call). */
  reviewEachReplica(path: '/validate' | '/mutate', body: string): Promise<ReplicaAnswer[]>;
  /** GET `path` (/readyz, /healthz) of every replica. */
  getEachReplica(path: string): Promise<ReplicaAnswer[]>;
  /** Every replica gone: the API server's calls now fail. */
  stopAll(): Promise<void>;
  /** Sets failurePolicy on every webhook of the configurations. */
  setFailurePolicy(policy: 'Fail' | 'Ignore'): Promise<void>;
  /** Ends this webhook's use by the suite (the process stops; a chart stays for the next suite). */
  release(): Promise<void>;
}

export interface E2eTarget {
  name: TargetName;
  /** Why the suites cannot run on this target here (undefined: they run). */
  skip: string | undefined;
  startCluster(options?: StartClusterOptions): Promise<E2eCluster>;
  startWebhook(cluster: E2eCluster, options?: StartWebhookOptions): Promise<WebhookUnderTest>;
}

/** The target of this test file's project. */
export async function e2eTarget(): Promise<E2eTarget> {
  const provided = inject('e2eTarget');
  if (!provided || provided.name === 'process') return processTarget(await requireControlPlane());
  // Each file fails on its own (the other projects still run and are counted).
  if (provided.requiredButMissing) throw new Error(`the ${provided.name} target cannot run here: ${provided.skip}, and CI=true requires it`);
  const { chartTarget } = await import('./chartTarget.js');
  return chartTarget(provided.name, provided.skip);
}

/**
 * `it` for a case that only some targets can show; on the others the case is
 * reported as skipped with its reason in its name, never dropped silently.
 */
export function onlyOn(target: E2eTarget, names: TargetName[], reason: string): typeof it {
  if (target.skip) return it.skip as unknown as typeof it;
  if (names.includes(target.name)) return it;
  const label = (name: string) => `${name} [not on ${target.name}: ${reason}]`;
  const skipped = Object.assign((name: string, ...rest: unknown[]) => it.skip(label(name), ...(rest as [])), {
    each: (table: readonly unknown[]) => (name: string, ...rest: unknown[]) => (it.skip.each(table as unknown[]) as unknown as (n: string, ...r: unknown[]) => void)(label(name), ...rest),
  });
  return skipped as unknown as typeof it;
}

/** `describe` for a group of cases that only some targets can show; elsewhere skipped with the reason in its name. */
export function describeOnlyOn(target: E2eTarget, names: TargetName[], reason: string): typeof describe {
  if (target.skip) return describe.skip as unknown as typeof describe;
  if (names.includes(target.name)) return describe;
  return ((name: string, ...rest: unknown[]) => describe.skip(`${name} [not on ${target.name}: ${reason}]`, ...(rest as []))) as unknown as typeof describe;
}

// ---------------------------------------------------------------------------
// The process target: a fresh control plane per suite and the server as a child
// process registered by URL, as the suites always had it.
// ---------------------------------------------------------------------------

function processTarget(skip: string | undefined): E2eTarget {
  return {
    name: 'process',
    skip,
    async startCluster(options = {}) {
      const cp = await startControlPlane();
      const cluster: E2eCluster = { kubeConfig: cp.kubeConfig, kubeconfigPath: cp.kubeconfigPath, server: cp.server, controlPlane: cp, stop: () => cp.stop() };
      const { ensureNamespaces } = await import('../e2e/support.js');
      if (options.namespaces?.length) await ensureNamespaces(cp.kubeConfig, ...options.namespaces);
      return cluster;
    },
    async startWebhook(cluster, options = {}) {
      const configDir = options.config ? await mkdtemp(join(tmpdir(), 'kga-e2e-config-')) : undefined;
      const configArgs: string[] = [];
      if (configDir) {
        // JSON is YAML: the server's --config reads either.
        await writeFile(join(configDir, 'config.yaml'), JSON.stringify(options.config));
        configArgs.push('--config', join(configDir, 'config.yaml'));
      }
      const server = await startWebhookServer({
        kubeconfigPath: cluster.kubeconfigPath,
        extraArgs: [...configArgs, ...(options.profile ? ['--profile', options.profile] : [])],
      });
      await registerWebhooks(cluster.kubeConfig, { url: server.url, caPem: server.caPem, failurePolicy: 'Fail' });
      const webhook = processWebhook(cluster, server);
      if (!configDir) return webhook;
      return { ...webhook, release: async () => { await webhook.release(); await rm(configDir, { recursive: true, force: true }); } };
    },
  };
}

function processWebhook(cluster: E2eCluster, server: WebhookServer): WebhookUnderTest {
  const answer = async (path: string, body?: string): Promise<ReplicaAnswer> => {
    const res = await httpsRequest(`${server.url}${path}`, { ca: server.caPem, ...(body === undefined ? {} : { body }) });
    return { status: res.status, text: res.text, json: res.json };
  };
  const metricsText = async () => [await (await fetch(`${server.metricsUrl}/metrics`)).text()];
  const metricPerReplica = async (name: string, labels: Record<string, string> = {}) => (await metricsText()).map((text) => sumMetric(text, name, labels));
  return {
    replicas: 1,
    metricsText,
    logs: async () => [server.logs()],
    metricPerReplica,
    metric: async (name, labels) => (await metricPerReplica(name, labels))[0]!,
    reviewEachReplica: async (path, body) => [await answer(path, body)],
    getEachReplica: async (path) => [await answer(path)],
    stopAll: () => server.stop(),
    async setFailurePolicy(policy) {
      await unregisterWebhooks(cluster.kubeConfig);
      await registerWebhooks(cluster.kubeConfig, { url: server.url, caPem: server.caPem, failurePolicy: policy });
    },
    async release() {
      await unregisterWebhooks(cluster.kubeConfig);
      await server.stop();
    },
  };
}

/** The sum of a metric's samples whose labels include `labels`, in Prometheus text. */
export function sumMetric(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}
