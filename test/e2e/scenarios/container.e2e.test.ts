// What the chart's pod really runs as, read from the kernel on the node rather
// than from the pod spec: the webhook container's process is found through the
// node's containerd (pod status containerID -> runc's state file -> init pid,
// mapped to the host's pid namespace on kind; test/support/clusterNode.ts),
// and /proc of that pid must show uid/gid 65532, no capability (effective,
// permitted, bounding), no_new_privs, a read-only root mount and no shell in
// its root filesystem. Every check is also run against the node's containerd
// process (root, all capabilities, writable root, a shell), where each one
// must report its violation: none of them can pass by construction.
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { posix } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ClusterNode } from '../../support/clusterNode.js';
import { kubeRequest } from '../../../harness/index.ts';
import { RELEASE, RELEASE_NS, scenarioCluster, scenarioTarget, waitRolledOut } from './cluster.js';

const target = scenarioTarget("the webhook container's process, from /proc");

const NONROOT = '65532';
const SHELLS = ['sh', 'bash', 'dash', 'ash', 'zsh', 'ksh', 'mksh', 'csh', 'tcsh', 'fish', 'busybox'];
const BIN_DIRS = ['/bin', '/sbin', '/usr/bin', '/usr/sbin', '/usr/local/bin', '/usr/local/sbin'];

interface ProcessFacts {
  uid: string[];
  gid: string[];
  capEff: string;
  capPrm: string;
  capBnd: string;
  noNewPrivs: string;
  rootMountOptions: string[];
  shells: string[];
}

function statusField(status: string, field: string): string {
  const value = new RegExp(`^${field}:\\s+(.+)$`, 'm').exec(status)?.[1];
  if (value === undefined) throw new Error(`no ${field} in /proc/PID/status`);
  return value.trim();
}

/**
 * A path inside a process's root filesystem, seen from here through
 * /proc/PID/root, following symlinks inside that root (an absolute link would
 * otherwise resolve against this process's root, the host's).
 */
function inRoot(pid: number, path: string, depth = 0): string | undefined {
  const root = `/proc/${pid}/root`;
  let resolved = '/';
  for (const part of path.split('/').filter(Boolean)) {
    const candidate = posix.join(resolved, part);
    let stat;
    try {
      stat = lstatSync(root + candidate);
    } catch {
      return undefined;
    }
    if (stat.isSymbolicLink()) {
      if (depth > 8) return undefined;
      const link = readlinkSync(root + candidate);
      const target = inRoot(pid, link.startsWith('/') ? link : posix.join(resolved, link), depth + 1);
      if (target === undefined) return undefined;
      resolved = target.slice(root.length) || '/';
    } else {
      resolved = candidate;
    }
  }
  return root + resolved;
}

/** The facts the checks read, from /proc/PID/{status,mountinfo,root}. */
function processFacts(pid: number): ProcessFacts {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  // Each line: id parent major:minor root mountpoint options ...; the last mount on "/" is the one in effect.
  const rootMount = readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n').filter((l) => l.split(' ')[4] === '/').at(-1);
  if (!rootMount) throw new Error(`no mount on / in /proc/${pid}/mountinfo`);
  const shells = new Set<string>();
  for (const dir of BIN_DIRS) {
    const seen = inRoot(pid, dir);
    if (!seen || !existsSync(seen)) continue;
    for (const name of readdirSync(seen)) if (SHELLS.includes(name)) shells.add(`${dir}/${name}`);
  }
  return {
    uid: statusField(status, 'Uid').split(/\s+/),
    gid: statusField(status, 'Gid').split(/\s+/),
    capEff: statusField(status, 'CapEff'),
    capPrm: statusField(status, 'CapPrm'),
    capBnd: statusField(status, 'CapBnd'),
    noNewPrivs: statusField(status, 'NoNewPrivs'),
    rootMountOptions: rootMount.split(' ')[5]!.split(','),
    shells: [...shells].sort(),
  };
}

/** What a process does wrong for the chart's promise; [] when nothing. */
function violations(facts: ProcessFacts): string[] {
  const found: string[] = [];
  const zero = /^0+$/;
  if (!facts.uid.every((id) => id === NONROOT)) found.push(`uid ${facts.uid.join(' ')}`);
  if (!facts.gid.every((id) => id === NONROOT)) found.push(`gid ${facts.gid.join(' ')}`);
  if (!zero.test(facts.capEff)) found.push(`CapEff ${facts.capEff}`);
  if (!zero.test(facts.capPrm)) found.push(`CapPrm ${facts.capPrm}`);
  if (!zero.test(facts.capBnd)) found.push(`CapBnd ${facts.capBnd}`);
  if (facts.noNewPrivs !== '1') found.push(`NoNewPrivs ${facts.noNewPrivs}`);
  if (!facts.rootMountOptions.includes('ro')) found.push(`root mounted ${facts.rootMountOptions.join(',')}`);
  if (facts.shells.length > 0) found.push(`shells ${facts.shells.join(' ')}`);
  return found;
}

describe.skipIf(target.skip)("the webhook container's process on the node, from /proc", () => {
  let pids: { pod: string; pid: number }[] = [];
  let node: ClusterNode;

  beforeAll(async () => {
    // The chart installed afresh with its defaults (as a user installs it), both pods Ready.
    const cluster = await scenarioCluster(target.name);
    node = cluster.node;
    await waitRolledOut(cluster.kc, 120_000);
    const selector = encodeURIComponent(`app.kubernetes.io/name=kgateway-admission,app.kubernetes.io/instance=${RELEASE}`);
    const pods = await kubeRequest(cluster.kc, 'GET', `/api/v1/namespaces/${RELEASE_NS}/pods?labelSelector=${selector}`);
    const running = (pods.body.items as { metadata: { name: string; deletionTimestamp?: string }; status: { containerStatuses?: { name: string; containerID?: string; state: { running?: unknown } }[] } }[])
      .filter((p) => !p.metadata.deletionTimestamp)
      .map((p) => ({ pod: p.metadata.name, status: p.status.containerStatuses?.find((c) => c.name === 'webhook' || c.name === 'kgateway-admission') ?? p.status.containerStatuses?.[0] }))
      .filter((p) => p.status?.state.running && p.status.containerID);
    pids = running.map((p) => ({ pod: p.pod, pid: node.containerPid(p.status!.containerID!.replace(/^containerd:\/\//, '')) }));
  });

  it('finds a running webhook process in each pod, the server itself (node ... serve) in a mount namespace of its own', () => {
    // replicaCount 2, the chart's default.
    expect(pids.length).toBe(2);
    for (const { pod, pid } of pids) {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      expect(argv[0], pod).toBe('/usr/local/bin/node');
      expect(argv, pod).toContain('serve');
      expect(readlinkSync(`/proc/${pid}/ns/mnt`), pod).not.toBe(readlinkSync('/proc/self/ns/mnt'));
    }
  });

  it('runs as uid/gid 65532 with no capability (effective, permitted, bounding), no_new_privs, a read-only root and no shell', () => {
    expect(pids.length).toBeGreaterThanOrEqual(2);
    for (const { pod, pid } of pids) {
      const facts = processFacts(pid);
      process.stderr.write(`[e2e] ${pod} (pid ${pid}): Uid ${facts.uid.join(' ')}, Gid ${facts.gid.join(' ')}, CapEff ${facts.capEff}, CapPrm ${facts.capPrm}, CapBnd ${facts.capBnd}, NoNewPrivs ${facts.noNewPrivs}, / ${facts.rootMountOptions.join(',')}, shells [${facts.shells.join(' ')}]\n`);
      expect(violations(facts), pod).toEqual([]);
      expect(facts.uid).toEqual([NONROOT, NONROOT, NONROOT, NONROOT]);
      expect(facts.gid).toEqual([NONROOT, NONROOT, NONROOT, NONROOT]);
    }
  });

  it("each check reports its violation on a process that breaks them all (the node's containerd: root, every capability, a writable root with a shell)", () => {
    const found = violations(processFacts(node.containerdPid()));
    const kinds = found.map((v) => v.split(' ')[0]);
    expect(kinds).toEqual(['uid', 'gid', 'CapEff', 'CapPrm', 'CapBnd', 'NoNewPrivs', 'root', 'shells']);
  });
});
