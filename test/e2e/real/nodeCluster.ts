// The single-node cluster of `npm run node:up -- --install` for the tests of
// what only the chart's pods can show: bring it up with the chart installed,
// drive it with helm, kubectl and the API, read its pods and EndpointSlices,
// take it down. One node runs on a machine at a time: run these suites under
// `flock /tmp/kga-node.lock` (see docs/real-node.md).
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { kubeRequest, REPO_ROOT } from '../../../harness/index.ts';
import { ensureNamespaces, pollUntil } from '../support.js';

const execFileP = promisify(execFile);

export const NETNS = 'kga-node';
export const NODE_DIR = '/var/lib/kga-node';
export const NODE_IP = '10.213.0.2';
export const RELEASE = 'kgateway-admission';
export const RELEASE_NS = 'kgateway-system';
export const DEPLOYMENT_PATH = `/apis/apps/v1/namespaces/${RELEASE_NS}/deployments/${RELEASE}`;
export const KUBECONFIG_PATH = join(REPO_ROOT, '.cluster', 'kubeconfig');

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

export function nodeScript(args: string[], timeoutMs: number): Promise<RunResult> {
  return run('bash', ['scripts/node.sh', ...args], timeoutMs);
}

async function nodePaths(): Promise<Record<string, string>> {
  const { stdout } = await execFileP('bash', ['scripts/control-plane.sh', 'node-paths'], { cwd: REPO_ROOT });
  return Object.fromEntries(stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

export interface NodeCluster {
  kc: KubeConfig;
  /** `npm run node:up` took this long. */
  upMs: number;
  helm(args: string[], timeoutMs?: number): Promise<RunResult>;
  kubectl(args: string[], timeoutMs?: number): Promise<RunResult>;
  /** Runs a command inside the node's network namespace (pod IPs are reachable only there). */
  inNode(cmd: string, args: string[], timeoutMs?: number): Promise<RunResult>;
  down(): Promise<RunResult>;
}

/** `node.sh up --install`; throws with the script's output when it fails. */
export function nodeUpWithChart(): Promise<NodeCluster> {
  return nodeUp(['--install']);
}

/** `node.sh up`: the node alone, no CRDs, no chart, no image imported into its containerd. */
export function nodeUpWithoutChart(): Promise<NodeCluster> {
  return nodeUp([]);
}

async function nodeUp(options: string[]): Promise<NodeCluster> {
  // kubectl (rollout restart/status, apply, wait) comes from the machine; say so before a node is brought up for nothing.
  const kubectl = await run('kubectl', ['version', '--client'], 30_000);
  if (kubectl.code !== 0) throw new Error(`these tests drive the node with kubectl, which does not run here: ${kubectl.output.trim()}`);
  const what = ['npm run node:up', ...(options.length > 0 ? ['--', ...options] : [])].join(' ');
  const up = await nodeScript(['up', ...options], 2_400_000);
  process.stderr.write(`[e2e] ${what}: ${(up.ms / 1000).toFixed(0)} s\n`);
  if (up.code !== 0) {
    await nodeScript(['down'], 300_000);
    throw new Error(`${what} failed (exit ${up.code}):\n${up.output.slice(-6000)}`);
  }
  const kc = new KubeConfig();
  kc.loadFromFile(KUBECONFIG_PATH);
  const paths = await nodePaths();
  const kubeEnv = { ...process.env, KUBECONFIG: KUBECONFIG_PATH };
  await ensureNamespaces(kc, 'monitoring');
  return {
    kc,
    upMs: up.ms,
    helm: (args, timeoutMs = 600_000) => run(paths.helm!, args, timeoutMs, kubeEnv),
    kubectl: (args, timeoutMs = 600_000) => run('kubectl', args, timeoutMs, kubeEnv),
    inNode: (cmd, args, timeoutMs = 60_000) => run('nsenter', [`--net=/run/netns/${NETNS}`, '--', cmd, ...args], timeoutMs),
    down: () => nodeScript(['down'], 300_000),
  };
}

/** `helm upgrade` of the release as node:up installed it, plus `set` (--reuse-values keeps the image settings). */
export function helmUpgrade(cluster: NodeCluster, set: string[], { wait = true, setString = [] }: { wait?: boolean; setString?: string[] } = {}): Promise<RunResult> {
  return cluster.helm([
    'upgrade', RELEASE, join(REPO_ROOT, 'charts/kgateway-admission'), '--namespace', RELEASE_NS, '--reuse-values',
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
