// Fault injection for the hardening tests: kill the control plane's
// kube-apiserver, start it again on the same port and etcd, or start a second
// instance beside it (an HA peer).
import * as fs from 'node:fs';
import type { ChildProcess } from 'node:child_process';

import * as k8s from '@kubernetes/client-node';

import type { ControlPlane } from './controlPlane.ts';
import { kubeRequest } from './kubeApi.ts';
import { freePorts } from './ports.ts';
import { isRunning, killAndWait, killPid, spawnLogged, tail, track } from './processes.ts';
import { waitFor } from './wait.ts';

interface ApiServerLaunch {
  bin: string;
  args: string[];
  children: ChildProcess[];
}

/** cp -> how its kube-apiserver was launched, and the instances started since. */
const apiServerLaunches = new WeakMap<ControlPlane, ApiServerLaunch>();

function apiServerLaunch(cp: ControlPlane): ApiServerLaunch {
  let launch = apiServerLaunches.get(cp);
  if (launch) return launch;
  // The exact command line the control plane started it with (setpriv execs, so
  // the pid's argv is kube-apiserver's own). Linux only, as the harness is.
  const argv = fs.readFileSync(`/proc/${cp.pids.kubeApiserver}/cmdline`, 'utf8').split('\0').filter(Boolean);
  const started: ApiServerLaunch = { bin: argv[0]!, args: argv.slice(1), children: [] };
  apiServerLaunches.set(cp, started);
  const stop = cp.stop;
  cp.stop = async () => {
    for (const child of [...started.children].reverse()) await killAndWait(child);
    await stop();
  };
  return started;
}

/** SIGKILLs the control plane's current kube-apiserver; etcd keeps running. */
export async function killKubeApiserver(cp: ControlPlane): Promise<void> {
  apiServerLaunch(cp);
  await killPid(cp.pids.kubeApiserver);
}

export interface ExtraKubeApiserver {
  /** https://127.0.0.1:PORT */
  server: string;
  /** The admin kubeconfig pointed at this instance. */
  kubeConfig: k8s.KubeConfig;
  pid: number | undefined;
  stop(): Promise<void>;
}

export interface StartKubeApiserverOptions {
  newPort?: boolean;
  timeoutMs?: number;
  /** Flags after the control plane's own (the last of a repeated flag wins), e.g. ['--watch-cache=false']. */
  extraArgs?: string[];
}

/**
 * Starts kube-apiserver with the control plane's flags, certificates and etcd:
 * on its own port again (after killKubeApiserver; cp.pids is updated), or with
 * `newPort` on a fresh port beside it (an HA peer). Waits for /readyz. cp.stop()
 * also stops every instance started here.
 */
export async function startKubeApiserver(cp: ControlPlane, { newPort = false, timeoutMs = 60_000, extraArgs = [] }: StartKubeApiserverOptions = {}): Promise<ExtraKubeApiserver> {
  const launch = apiServerLaunch(cp);
  const port = newPort ? (await freePorts(1))[0]! : Number(new URL(cp.server).port);
  const args = [...launch.args.map((a) => (a.startsWith('--secure-port=') ? `--secure-port=${port}` : a)), ...extraArgs];
  const child = spawnLogged(launch.bin, args, cp.logs.kubeApiserver);
  track({ procs: [child], dirs: [] });
  launch.children.push(child);
  const server = `https://127.0.0.1:${port}`;
  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromString(fs.readFileSync(cp.kubeconfigPath, 'utf8').replace(cp.server, server));
  await waitFor(`kube-apiserver on ${server} /readyz`, async () => (await kubeRequest(kubeConfig, 'GET', '/readyz', { timeoutMs: 5000 })).status === 200, {
    timeoutMs,
    intervalMs: 100,
    abort: () => (isRunning(child) ? undefined : `kube-apiserver exited (${child.exitCode ?? child.signalCode}):\n${tail(cp.logs.kubeApiserver)}`),
  });
  if (!newPort) cp.pids.kubeApiserver = child.pid;
  return { server, kubeConfig, pid: child.pid, stop: () => killAndWait(child) };
}
