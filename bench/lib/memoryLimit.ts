// Runs a server under a memory limit the way a container runtime does: in a
// memory cgroup of its own (v2 where the memory controller is enabled, else
// v1), so Node sizes its heap from the limit (process.constrainedMemory()) as
// it does in a pod with resources.limits.memory, and the kernel kills it if it
// goes past. Used to measure RSS as the chart deploys the server.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT } from './util.ts';

const V2 = '/sys/fs/cgroup';
const V1 = '/sys/fs/cgroup/memory';

/** resources.limits.memory of the chart's values.yaml, in MiB. */
export function chartMemoryLimitMiB(): number {
  const values = readFileSync(path.join(REPO_ROOT, 'charts', 'kgateway-admission', 'values.yaml'), 'utf8');
  const match = /^resources:\n(?:\s+.*\n)*?\s+limits:\n(?:\s+.*\n)*?\s+memory:\s*"?(\d+)(Mi|Gi)"?/m.exec(values);
  if (!match) throw new Error('charts/kgateway-admission/values.yaml: no resources.limits.memory');
  return Number(match[1]) * (match[2] === 'Gi' ? 1024 : 1);
}

/** nodeOptions of the chart's values.yaml (the server's NODE_OPTIONS in a pod), as arguments. */
export function chartNodeArgs(): string[] {
  const values = parse(readFileSync(path.join(REPO_ROOT, 'charts', 'kgateway-admission', 'values.yaml'), 'utf8'));
  return String(values.nodeOptions ?? '').split(/\s+/).filter(Boolean);
}

/**
 * A fresh memory cgroup limited to `limitMiB`, or a reason why there is none
 * (no cgroup filesystem, not writable).
 */
export type MemoryCgroup = { wrap(command: string, args: string[]): [string, string[]]; oomKills(): number; remove(): void } | { unavailable: string };

export function memoryCgroup(limitMiB: number, name: string): MemoryCgroup {
  const bytes = String(limitMiB * 1024 * 1024);
  let dir: string;
  let limitFile: string;
  let eventsFile: string;
  try {
    const v2Controllers = existsSync(`${V2}/cgroup.controllers`) ? readFileSync(`${V2}/cgroup.controllers`, 'utf8') : '';
    if (v2Controllers.split(/\s+/).includes('memory')) {
      dir = `${V2}/${name}`;
      limitFile = 'memory.max';
      eventsFile = 'memory.events';
    } else if (existsSync(`${V1}/memory.limit_in_bytes`)) {
      dir = `${V1}/${name}`;
      limitFile = 'memory.limit_in_bytes';
      eventsFile = 'memory.oom_control';
    } else {
      return { unavailable: 'no memory cgroup controller on this machine' };
    }
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}/${limitFile}`, bytes);
  } catch (error) {
    return { unavailable: `cannot create a memory cgroup: ${(error as Error).message}` };
  }
  return {
    // The shell moves itself into the cgroup, then execs the server: same
    // pid, and Node reads the limit at its start.
    wrap: (command, args) => ['/bin/sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', dir, command, ...args]],
    oomKills() {
      try {
        const m = /oom_kill (\d+)/.exec(readFileSync(`${dir}/${eventsFile}`, 'utf8'));
        return m ? Number(m[1]) : 0;
      } catch {
        return 0;
      }
    },
    remove() {
      try {
        rmdirSync(dir);
      } catch {
        // still has a process, or already gone
      }
    },
  };
}
