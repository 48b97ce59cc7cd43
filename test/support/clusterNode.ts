// The machine the chart's pods run on, seen from the host (root): what the
// scenario suites and the container check need beyond the API. It is the kind
// node container (podman or docker): its network namespace and root
// filesystem through /proc/<its pid>, the containerd inside it, the processes
// in the container's pid namespace (mapped to host pids).
// Pod IPs are reachable only inside the node's network namespace: run a
// command there with `nsenter --net=<netns> -- …`.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { kubeRequest } from '../../harness/index.ts';
import { kindProvider } from './kindTarget.js';

export interface ClusterNode {
  /** For `nsenter --net=…`: the node's network namespace, where pod IPs and the node's address are reachable. */
  netns: string;
  /** The node's InternalIP: its API server listens there (port 6443), and the pods reach it. */
  ip: string;
  /** The API server's serving certificate and key and the cluster CA (the pods trust it), as host paths. */
  apiServerPki: { cert: string; key: string; ca: string };
  /** The host pid of a container's init process, by its CRI id (pod status `containerd://<id>`, without the prefix). */
  containerPid(containerId: string): number;
  /** The host pid of the node's containerd. */
  containerdPid(): number;
}

/** The Node's InternalIP, from the API (kind's one node). */
async function nodeInternalIp(kc: KubeConfig): Promise<string> {
  const res = await kubeRequest(kc, 'GET', '/api/v1/nodes');
  if (res.status !== 200) throw new Error(`listing the nodes: ${res.status} ${res.text}`);
  const ip = (res.body.items as { status: { addresses?: { type: string; address: string }[] } }[])
    .flatMap((n) => n.status.addresses ?? [])
    .find((a) => a.type === 'InternalIP')?.address;
  if (!ip) throw new Error('no node has an InternalIP');
  return ip;
}

function cmdline(pid: string | number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
}

/** NSpid of /proc/PID/status: the pid in each pid namespace, outermost (the host's) first. */
function nsPids(pid: string | number): number[] {
  const line = /^NSpid:\s+(.+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return line ? line.trim().split(/\s+/).map(Number) : [Number(pid)];
}

function parentPid(pid: number): number {
  return Number(/^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
}

/** Whether host pid `pid` runs under host pid `ancestor` (its parent, its parent's parent, …). */
function descendsFrom(pid: number, ancestor: number): boolean {
  for (let p = pid, hops = 0; p > 1 && hops < 64; hops++) {
    if (p === ancestor) return true;
    try {
      p = parentPid(p);
    } catch {
      return false;
    }
  }
  return false;
}

/** Every host pid, with `match` applied; processes that end meanwhile are passed over. */
function findProcesses(match: (pid: number) => boolean): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (match(Number(entry))) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** runc's state of a container: the init pid, in the pid namespace of the runtime that started it. */
function runcInitPid(stateDirs: string[], containerId: string): number {
  for (const dir of stateDirs) {
    const file = join(dir, containerId, 'state.json');
    if (existsSync(file)) return Number((JSON.parse(readFileSync(file, 'utf8')) as { init_process_pid: number }).init_process_pid);
  }
  throw new Error(`no runc state for container ${containerId} under ${stateDirs.join(' or ')}`);
}

/** The container engine kind runs on here: KGA_KIND_PROVIDER as scripts/kind.sh reads it, else docker when it answers, else podman. */
export function kindEngine(): 'podman' | 'docker' {
  const chosen = process.env.KGA_KIND_PROVIDER;
  if (chosen === 'podman' || chosen === 'docker') return chosen;
  const engine = kindProvider();
  return 'provider' in engine ? engine.provider : 'podman';
}

/** The host pid of the kind node container's init (`<engine> inspect -f {{.State.Pid}}`). */
export function kindNodePid(container: string): number {
  const out = execFileSync(kindEngine(), ['inspect', '-f', '{{.State.Pid}}', container], { encoding: 'utf8', timeout: 30_000 }).trim();
  const pid = Number(out);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`${container} is not running (${kindEngine()} inspect: State.Pid ${out})`);
  return pid;
}

function kindNode(container: string, ip: string): ClusterNode {
  const nodePid = kindNodePid(container);
  const root = `/proc/${nodePid}/root`;
  // The pids inside the node container are those of its pid namespace: its level in NSpid.
  const level = nsPids(nodePid).length - 1;
  const inNode = (pid: number) => descendsFrom(pid, nodePid);
  return {
    netns: `/proc/${nodePid}/ns/net`,
    ip,
    apiServerPki: { cert: `${root}/etc/kubernetes/pki/apiserver.crt`, key: `${root}/etc/kubernetes/pki/apiserver.key`, ca: `${root}/etc/kubernetes/pki/ca.crt` },
    containerPid(id) {
      const pidInNode = runcInitPid([`${root}/run/containerd/runc/k8s.io`, `${root}/run/containerd/runc/default`], id);
      const [pid] = findProcesses((p) => nsPids(p)[level] === pidInNode && inNode(p));
      if (pid === undefined) throw new Error(`no host process for pid ${pidInNode} of ${container} (container ${id})`);
      return pid;
    },
    containerdPid() {
      const [pid] = findProcesses((p) => cmdline(p)[0]?.split('/').at(-1) === 'containerd' && inNode(p));
      if (pid === undefined) throw new Error(`no containerd process in ${container}`);
      return pid;
    },
  };
}

/** The node the chart's pods run on; `kindContainer` names the kind node container (`<cluster>-control-plane`). */
export async function clusterNode(kc: KubeConfig, kindContainer: string): Promise<ClusterNode> {
  return kindNode(kindContainer, await nodeInternalIp(kc));
}
