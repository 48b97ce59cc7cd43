// The processes the harness starts (etcd, kube-apiserver, our server): spawned
// with output to a log file, killed and their temp dirs removed when this
// process exits, and killed with it even when it is SIGKILLed.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';

import { sleep } from './wait.ts';

/** What one start owns: its processes and the temp dirs to remove. */
export interface Owned {
  procs: ChildProcess[];
  dirs: string[];
}

const live = new Set<Owned>();
let exitHookInstalled = false;

/** Kills `owned`'s processes and removes its dirs when this process exits (unless untracked first). */
export function track(owned: Owned): Owned {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const e of live) {
        for (const p of e.procs) {
          try {
            if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
          } catch {
            /* already gone */
          }
        }
        for (const d of e.dirs) {
          try {
            fs.rmSync(d, { recursive: true, force: true });
          } catch {
            /* best effort */
          }
        }
      }
    });
  }
  live.add(owned);
  return owned;
}

/** Forgets `owned` after it was stopped by hand. */
export function untrack(owned: Owned): void {
  live.delete(owned);
}

let setprivPath: string | null | undefined;
/**
 * When the test process dies without running its exit hooks (SIGKILL of a
 * vitest worker), children started through `setpriv --pdeathsig SIGKILL` die
 * with it. setpriv execs the target, so the pid stays the same.
 */
function pdeathsigPrefix(): string[] {
  if (setprivPath === undefined) {
    setprivPath = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => fs.existsSync(p)) ?? null;
  }
  return setprivPath ? [setprivPath, '--pdeathsig', 'SIGKILL', '--'] : [];
}

export interface SpawnLoggedOptions {
  /** Survives this process (own process group, no pdeathsig, unref'd). */
  detached?: boolean;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Spawns a binary with stdout and stderr appended to a log file. */
export function spawnLogged(bin: string, args: string[], logFile: string, { detached = false, env, cwd }: SpawnLoggedOptions = {}): ChildProcess {
  const fd = fs.openSync(logFile, 'a');
  const argv = detached ? [bin, ...args] : [...pdeathsigPrefix(), bin, ...args];
  const child = spawn(argv[0]!, argv.slice(1), {
    stdio: ['ignore', fd, fd],
    detached,
    env: env ?? process.env,
    cwd,
  });
  fs.closeSync(fd);
  if (detached) child.unref();
  // Do not crash on spawn errors; callers watch `exit`/`error`.
  child.on('error', () => {});
  return child;
}

export function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** SIGKILLs a child of ours and waits (at most timeoutMs) for its exit. */
export async function killAndWait(child: ChildProcess | undefined, timeoutMs = 10_000): Promise<void> {
  if (!child || !isRunning(child)) return;
  const exited = new Promise((r) => child.once('exit', r));
  try {
    child.kill('SIGKILL');
  } catch {
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
  clearTimeout(timer);
}

/** Is a pid (possibly not our child) still alive? */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** SIGKILLs a pid (not necessarily our child) and waits until it is gone. */
export async function killPid(pid: number | undefined, timeoutMs = 10_000): Promise<void> {
  if (!pid || !pidAlive(pid)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  const deadline = Date.now() + timeoutMs;
  while (pidAlive(pid) && Date.now() < deadline) await sleep(50);
}

/** The last lines of a log file, for an error message. */
export function tail(file: string, lines = 40): string {
  try {
    const text = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    return text.slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
