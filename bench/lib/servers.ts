// Child processes under test: our webhook (`serve --manifests examples/`), the
// bare-Node ceiling and the peers (bench/peers/: the bare-Node floor and the
// controller-runtime webhook). Each is stopped by its own pid; all are stopped when
// the bench exits.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { goPeerArgs } from '../peers/goPeer.ts';
import { memoryCgroup } from './memoryLimit.ts';
import { BENCH_DIR, freePort, REPO_ROOT, waitForStatus } from './util.ts';

const live = new Set<ChildProcess>();
function stopAllSync() {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
}
process.on('exit', stopAllSync);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    stopAllSync();
    process.exit(130);
  });
}

/** utime+stime of a pid in seconds (from /proc). */
export function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/**
 * ours: `serve` of dist/cli/main.js (or `entry`), with --manifests examples/ or --kubeconfig.
 * ceiling: bench/ceiling-server.ts. variant: bench/experiments/variant-server.ts.
 * floor: bench/peers/floor-server.ts. go: the Go peer's binary (`binary`, from ensureGoPeer).
 */
export interface ServerOptions {
  kind: 'ours' | 'ceiling' | 'variant' | 'floor' | 'go';
  binary?: string;
  entry?: string;
  env?: Record<string, string>;
  name?: string;
  certFile: string;
  keyFile: string;
  config?: string;
  logFile?: string;
  nodeArgs?: string[];
  extraArgs?: string[];
  kubeconfig?: string;
  readyTimeoutMs?: number;
  memoryLimitMiB?: number | undefined;
}

/** A server under test, started and ready. */
export interface RunningServer {
  name: string;
  kind: ServerOptions['kind'];
  url: string;
  port: number;
  pid: number;
  readyMs: number;
  /** Times the kernel killed the server for going past its memory limit (0 without one). */
  oomKills(): number;
  cpuSeconds(): number;
  /** SIGINT lets `--cpu-prof` write its profile; SIGKILL after 10 s. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function startServer(o: ServerOptions): Promise<RunningServer> {
  const port = await freePort();
  const stderrFile = path.join(path.dirname(o.certFile), `${o.name ?? o.kind}-${port}.stderr`);
  const out = openSync(o.logFile ?? '/dev/null', 'a');
  const err = openSync(stderrFile, 'a');
  let args: string[];
  if (o.kind === 'ceiling') {
    args = [path.join(BENCH_DIR, 'ceiling-server.ts'), '--port', String(port), '--cert', o.certFile, '--key', o.keyFile, ...(o.extraArgs ?? [])];
  } else if (o.kind === 'floor') {
    args = [path.join(BENCH_DIR, 'peers', 'floor-server.ts'), '--port', String(port), '--cert', o.certFile, '--key', o.keyFile];
  } else if (o.kind === 'go') {
    args = goPeerArgs({ port, certFile: o.certFile, keyFile: o.keyFile });
  } else if (o.kind === 'variant') {
    args = [path.join(BENCH_DIR, 'experiments', 'variant-server.ts'), '--port', String(port), '--cert', o.certFile, '--key', o.keyFile, ...(o.extraArgs ?? [])];
  } else {
    const metricsPort = await freePort();
    args = [
      o.entry ?? path.join(REPO_ROOT, 'dist', 'cli', 'main.js'),
      'serve',
      ...(o.kubeconfig ? ['--kubeconfig', o.kubeconfig] : ['--manifests', path.join(REPO_ROOT, 'examples')]),
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--metrics-port',
      String(metricsPort),
      '--tls-cert',
      o.certFile,
      '--tls-key',
      o.keyFile,
      ...(o.config ? ['--config', o.config] : []),
      ...(o.extraArgs ?? []),
    ];
  }
  // KGA_BENCH_NODE_ARGS: Node/V8 flags to try on our server (the product ships with none).
  const nodeArgs = o.kind === 'ours' ? (process.env.KGA_BENCH_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? []) : [];
  let command = o.kind === 'go' ? o.binary! : process.execPath;
  let commandArgs = o.kind === 'go' ? args : [...nodeArgs, ...(o.nodeArgs ?? []), ...args];
  const cgroup = o.memoryLimitMiB ? memoryCgroup(o.memoryLimitMiB, `kga-bench-${process.pid}-${port}`) : undefined;
  if (cgroup && 'unavailable' in cgroup) throw new Error(`a memory limit of ${o.memoryLimitMiB} MiB was asked for: ${cgroup.unavailable}`);
  if (cgroup) [command, commandArgs] = cgroup.wrap(command, commandArgs);
  const child = spawn(command, commandArgs, {
    cwd: REPO_ROOT,
    stdio: ['ignore', out, err],
    env: { ...process.env, ...(o.env ?? {}) },
  });
  live.add(child);
  let exited = false;
  child.on('exit', () => {
    exited = true;
    live.delete(child);
    cgroup?.remove();
  });
  const url = `https://127.0.0.1:${port}`;
  const tail = () => {
    try {
      return readFileSync(stderrFile, 'utf8').slice(-2000);
    } catch {
      return '';
    }
  };
  const started = Date.now();
  await waitForStatus(`${url}/readyz`, { timeoutMs: o.readyTimeoutMs ?? 30_000, isDead: () => (exited ? `${o.kind} server exited: ${tail()}` : undefined) });
  return {
    name: o.name ?? o.kind,
    kind: o.kind,
    url,
    port,
    pid: child.pid!,
    readyMs: Date.now() - started,
    oomKills: () => cgroup?.oomKills() ?? 0,
    cpuSeconds: () => cpuSeconds(child.pid),
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (exited) return;
      const done = new Promise((resolve) => child.once('exit', resolve));
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await done;
      clearTimeout(timer);
    },
  };
}

