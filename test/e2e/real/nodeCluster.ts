// The single-node cluster of `npm run node:up` alone (no CRDs, no chart, no
// image imported into its containerd), for the test that installs from a
// registry (registry.e2e.test.ts): the scenarios with the chart installed use
// test/e2e/scenarios/cluster.ts. One node runs on a machine at a time: run
// under `flock /tmp/kga-node.lock` (see docs/real-node.md).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { REPO_ROOT } from '../../../harness/index.ts';
import { run, type RunResult } from '../scenarios/cluster.js';
import { ensureNamespaces } from '../support.js';

const execFileP = promisify(execFile);

export const NETNS = 'kga-node';
export const NODE_DIR = '/var/lib/kga-node';
export const KUBECONFIG_PATH = join(REPO_ROOT, '.cluster', 'kubeconfig');

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

/** `node.sh up`: the node alone; throws with the script's output when it fails. */
export async function nodeUpWithoutChart(): Promise<NodeCluster> {
  const kubectl = await run('kubectl', ['version', '--client'], 30_000);
  if (kubectl.code !== 0) throw new Error(`these tests drive the node with kubectl, which does not run here: ${kubectl.output.trim()}`);
  const up = await nodeScript(['up'], 2_400_000);
  process.stderr.write(`[e2e] npm run node:up: ${(up.ms / 1000).toFixed(0)} s\n`);
  if (up.code !== 0) {
    await nodeScript(['down'], 300_000);
    throw new Error(`npm run node:up failed (exit ${up.code}):\n${up.output.slice(-6000)}`);
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
