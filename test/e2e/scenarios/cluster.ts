// The cluster the scenarios of docs/real-node.md run on: the chart's pods on
// a real node, driven with helm, kubectl and the API under load. It is the
// kind cluster of test/support/kindTarget.ts (npm run kind:up's); the
// scenarios run in the e2e-kind project (vitest.config.ts).
// The project's target brings the cluster up once for all its files and takes
// it down in its teardown; each scenario file starts from a fresh install of
// the chart (the release uninstalled, every namespace but the system ones
// deleted, the chart installed with its defaults and the cluster's image).
// One kind cluster per machine: run these under `flock /tmp/kga-kind.lock`
// (see docs/real-node.md).
import { spawn } from 'node:child_process';
import { KubeConfig } from '@kubernetes/client-node';
import { inject } from 'vitest';
import { kubeRequest, REPO_ROOT, waitForWebhooksReached } from '../../../harness/index.ts';
import { CHART_DIR, helmBinary, valuesArgs } from '../../chart/support.js';
import { resetCluster, type ChartCluster } from '../../support/chartTarget.js';
import { clusterNode, type ClusterNode } from '../../support/clusterNode.js';
import { ensureKindWithChart, KIND } from '../../support/kindTarget.js';
import { ensureNamespaces, pollUntil } from '../support.js';
import { missingForRealE2e } from '../real/gate.js';

export const RELEASE = 'kgateway-admission';
export const RELEASE_NS = 'kgateway-system';
export const DEPLOYMENT_PATH = `/apis/apps/v1/namespaces/${RELEASE_NS}/deployments/${RELEASE}`;

export interface RunResult {
  code: number | null;
  output: string;
  ms: number;
}

/** Runs a command to its end, with its combined output. */
export function run(cmd: string, args: string[], timeoutMs: number, env: NodeJS.ProcessEnv = process.env): Promise<RunResult> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, env });
    let output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    child.on('error', (error) => (output += `\n${error.message}`));
    child.on('close', (code) => resolve({ code, output, ms: performance.now() - t0 }));
  });
}

export type ScenarioTargetName = 'kind';

export interface ScenarioCluster {
  target: ScenarioTargetName;
  kc: KubeConfig;
  kubeconfigPath: string;
  /** Bringing the cluster up (when this file was the first to need it) and installing the chart afresh took this long. */
  upMs: number;
  /** The node the pods run on, seen from the host (its network namespace, the API server's PKI, its processes). */
  node: ClusterNode;
  helm(args: string[], timeoutMs?: number): Promise<RunResult>;
  kubectl(args: string[], timeoutMs?: number): Promise<RunResult>;
  /** Runs a command inside the node's network namespace (pod IPs are reachable only there). */
  inNode(cmd: string, args: string[], timeoutMs?: number): Promise<RunResult>;
  /** Values every install of the chart gets on this cluster (its image, never pulled). */
  baseValues: Record<string, unknown>;
}

/**
 * The target of this file's project, or why the scenario cannot run here
 * (skipped with one loud line; under CI=true, a target that is required but
 * cannot run fails the file).
 */
export function scenarioTarget(what: string): { name: ScenarioTargetName; skip: string | undefined } {
  const provided = inject('e2eTarget');
  if (!provided || provided.name !== 'kind') {
    return { name: 'kind', skip: 'runs in the e2e-kind project, on the chart\'s pods' };
  }
  if (provided.requiredButMissing) throw new Error(`${what}: the ${provided.name} target cannot run here: ${provided.skip}, and CI=true requires it`);
  // nsenter into the node's network namespace, /proc of its processes.
  const skip = provided.skip ?? missingForRealE2e();
  if (skip && !provided.skip && process.env.CI === 'true') throw new Error(`${what} on ${provided.name}: ${skip}, and CI=true requires it`);
  if (skip) process.stderr.write(`[e2e] SKIPPED ${what} on ${provided.name}: ${skip}\n`);
  return { name: provided.name, skip };
}

/** The chart installed as the scenarios expect it: no release left, no namespace but the system ones, then `helm install` with the defaults. */
async function installChartAfresh(kc: KubeConfig, chart: ChartCluster, helm: (args: string[], timeoutMs?: number) => Promise<RunResult>): Promise<void> {
  const uninstall = await helm(['uninstall', chart.release, '--namespace', chart.namespace, '--ignore-not-found', '--wait', '--timeout', '5m']);
  if (uninstall.code !== 0) throw new Error(`helm uninstall: ${uninstall.output}`);
  // The release's namespace too: the Secret the pods made (self-managed certificates) must not outlive it.
  await resetCluster(kc, chart, [], { keepReleaseNamespace: false });
  await ensureNamespaces(kc, 'monitoring');
  const install = await helm([
    'install', chart.release, CHART_DIR, '--namespace', chart.namespace, '--create-namespace',
    ...(await valuesArgs(chart.baseValues)), '--wait', '--timeout', '5m',
  ]);
  if (install.code !== 0) throw new Error(`helm install (the chart's defaults): ${install.output}`);
  const reachedMs = await waitForWebhooksReached(kc);
  process.stderr.write(`[e2e] the API server reached the webhooks through their Service ${(reachedMs / 1000).toFixed(1)} s after helm --wait\n`);
}

/**
 * The cluster of this file's project, with the chart freshly installed; the
 * project's teardown takes the cluster down (never a file: the next reuses it).
 */
export async function scenarioCluster(target: ScenarioTargetName): Promise<ScenarioCluster> {
  const t0 = performance.now();
  // kubectl v1.36.3 of scripts/control-plane.sh build-kind when built: vitest.config.ts puts it first on PATH.
  const kubectlPath = 'kubectl';
  const version = await run(kubectlPath, ['version', '--client'], 30_000);
  if (version.code !== 0) throw new Error(`these tests drive the cluster with kubectl, which does not run here: ${version.output.trim()}`);
  const chart = await ensureKindWithChart();
  const kc = new KubeConfig();
  kc.loadFromFile(chart.kubeconfigPath);
  const kubeEnv = { ...process.env, KUBECONFIG: chart.kubeconfigPath };
  const helmPath = await helmBinary();
  const helm = (args: string[], timeoutMs = 600_000) => run(helmPath, args, timeoutMs, kubeEnv);
  await installChartAfresh(kc, chart, helm);
  const node = await clusterNode(kc, KIND.nodeContainer);
  const upMs = performance.now() - t0;
  process.stderr.write(`[e2e] ${target}: cluster ready and the chart installed afresh in ${(upMs / 1000).toFixed(1)} s (${version.output.split('\n')[0]?.trim()})\n`);
  return {
    target,
    kc,
    kubeconfigPath: chart.kubeconfigPath,
    upMs,
    node,
    helm,
    kubectl: (args, timeoutMs = 600_000) => run(kubectlPath, args, timeoutMs, kubeEnv),
    inNode: (cmd, args, timeoutMs = 60_000) => run('nsenter', [`--net=${node.netns}`, '--', cmd, ...args], timeoutMs),
    baseValues: chart.baseValues,
  };
}

/** `helm upgrade` of the release as kind:up installed it, plus `set` (--reuse-values keeps the image settings). */
export function helmUpgrade(cluster: ScenarioCluster, set: string[], { wait = true, setString = [] }: { wait?: boolean; setString?: string[] } = {}): Promise<RunResult> {
  return cluster.helm([
    'upgrade', RELEASE, CHART_DIR, '--namespace', RELEASE_NS, '--reuse-values',
    ...set.flatMap((s) => ['--set', s]),
    ...setString.flatMap((s) => ['--set-string', s]),
    ...(wait ? ['--wait', '--timeout', '5m'] : []),
  ]);
}

export interface PodState {
  name: string;
  ip: string | undefined;
  ready: boolean;
  deleting: boolean;
  started: boolean;
  templateHash: string | undefined;
}

export async function webhookPods(kc: KubeConfig): Promise<PodState[]> {
  const res = await kubeRequest(kc, 'GET', `/api/v1/namespaces/${RELEASE_NS}/pods?labelSelector=${encodeURIComponent(`app.kubernetes.io/instance=${RELEASE}`)}`);
  if (res.status !== 200) throw new Error(`listing the webhook pods: ${res.status} ${res.text}`);
  return (res.body.items as any[]).map((p) => ({
    name: p.metadata.name,
    ip: p.status.podIP,
    ready: (p.status.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True'),
    deleting: Boolean(p.metadata.deletionTimestamp),
    started: (p.status.containerStatuses ?? []).some((c: any) => c.started === true && c.state?.running),
    templateHash: p.metadata.labels?.['pod-template-hash'],
  }));
}

export interface ServiceEndpoint {
  ip: string;
  podName: string | undefined;
  ready: boolean;
  terminating: boolean;
}

/** The endpoints of the chart's Service, from its EndpointSlices (what the API server sends webhook calls to). */
export async function serviceEndpoints(kc: KubeConfig): Promise<ServiceEndpoint[]> {
  const res = await kubeRequest(kc, 'GET', `/apis/discovery.k8s.io/v1/namespaces/${RELEASE_NS}/endpointslices?labelSelector=${encodeURIComponent(`kubernetes.io/service-name=${RELEASE}`)}`);
  if (res.status !== 200) throw new Error(`listing the EndpointSlices: ${res.status} ${res.text}`);
  return (res.body.items as any[]).flatMap((slice) =>
    (slice.endpoints ?? []).flatMap((e: any) =>
      (e.addresses as string[]).map((ip) => ({ ip, podName: e.targetRef?.name, ready: e.conditions?.ready === true, terminating: e.conditions?.terminating === true })),
    ),
  );
}

export interface DeploymentState {
  replicas: number;
  ready: number;
  updated: number;
  available: number;
  generation: number;
  observedGeneration: number;
}

export async function deploymentState(kc: KubeConfig): Promise<DeploymentState> {
  const res = await kubeRequest(kc, 'GET', DEPLOYMENT_PATH);
  if (res.status !== 200) throw new Error(`reading the Deployment: ${res.status} ${res.text}`);
  const s = res.body.status ?? {};
  return {
    replicas: res.body.spec.replicas,
    ready: s.readyReplicas ?? 0,
    updated: s.updatedReplicas ?? 0,
    available: s.availableReplicas ?? 0,
    generation: res.body.metadata.generation,
    observedGeneration: s.observedGeneration ?? 0,
  };
}

/** Waits for the Deployment to be rolled out: every replica updated, ready, and no old pod left. */
export async function waitRolledOut(kc: KubeConfig, timeoutMs = 300_000): Promise<number> {
  const { ms } = await pollUntil('the Deployment to be rolled out', async () => {
    const d = await deploymentState(kc);
    if (d.observedGeneration < d.generation || d.updated !== d.replicas || d.ready !== d.replicas || d.available !== d.replicas) return undefined;
    const pods = await webhookPods(kc);
    return pods.length === d.replicas && pods.every((p) => p.ready && !p.deleting) ? true : undefined;
  }, timeoutMs, 250);
  return ms;
}

export interface PdbState {
  minAvailable: number | string | undefined;
  currentHealthy: number;
  disruptionsAllowed: number;
}

export async function pdbState(kc: KubeConfig): Promise<PdbState> {
  const res = await kubeRequest(kc, 'GET', `/apis/policy/v1/namespaces/${RELEASE_NS}/poddisruptionbudgets/${RELEASE}`);
  if (res.status !== 200) throw new Error(`reading the PodDisruptionBudget: ${res.status} ${res.text}`);
  return { minAvailable: res.body.spec.minAvailable, currentHealthy: res.body.status?.currentHealthy ?? 0, disruptionsAllowed: res.body.status?.disruptionsAllowed ?? 0 };
}

/**
 * Samples the Service's ready endpoints and the Deployment every 200 ms until
 * stopped: the fewest ready endpoints seen is what the API server had to call.
 */
export function watchAvailability(kc: KubeConfig): { stop(): Promise<{ samples: number; minReadyEndpoints: number; maxPods: number; errors: string[] }> } {
  let stopped = false;
  let samples = 0;
  let minReadyEndpoints = Number.POSITIVE_INFINITY;
  let maxPods = 0;
  const errors: string[] = [];
  const loop = (async () => {
    while (!stopped) {
      try {
        const [endpoints, pods] = await Promise.all([serviceEndpoints(kc), webhookPods(kc)]);
        minReadyEndpoints = Math.min(minReadyEndpoints, endpoints.filter((e) => e.ready).length);
        maxPods = Math.max(maxPods, pods.length);
        samples++;
      } catch (error) {
        errors.push((error as Error).message);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { samples, minReadyEndpoints, maxPods, errors };
    },
  };
}

/** The webhook's log lines of a pod (JSON lines), as the kubelet serves them. */
export async function podLog(kc: KubeConfig, pod: string): Promise<string> {
  const res = await kubeRequest(kc, 'GET', `/api/v1/namespaces/${RELEASE_NS}/pods/${pod}/log`);
  if (res.status !== 200) throw new Error(`log of ${pod}: ${res.status} ${res.text}`);
  return res.text;
}
