// Wrappers around the external load generators. Each runs as its own process
// (never on the bench's or the server's event loop) and returns
// { requests, seconds, rps, p50_ms, p90_ms, p99_ms, errors, serverCpuUsPerReq }.
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { RunningServer } from './servers.ts';
import { BENCH_DIR, percentile, run } from './util.ts';

/** One run of a load generator against one server. */
export interface LoadRun {
  requests: number;
  seconds: number;
  rps: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  max_ms: number;
  errors: number;
  /** utime+stime of the server process over the run, per request. */
  serverCpuUsPerReq: number;
}

type Measured = Omit<LoadRun, 'serverCpuUsPerReq'>;
type Target = Pick<RunningServer, 'cpuSeconds' | 'url' | 'port'>;

const WRK_SCRIPT = path.join(BENCH_DIR, 'lib', 'wrk-admission.lua');

function withCpu(server: Target, result: Measured, cpuBefore: number): LoadRun {
  const cpu = server.cpuSeconds() - cpuBefore;
  return { ...result, serverCpuUsPerReq: result.requests > 0 ? (cpu * 1e6) / result.requests : NaN };
}

/**
 * Closed loop over keep-alive connections: wrk, one thread, `connections`
 * connections, alternating between the bodies ({path: file}).
 */
export async function wrkRun(
  server: Target,
  { connections, seconds, bodies, close = false }: { connections: number; seconds: number; bodies: Record<string, string>; close?: boolean },
): Promise<LoadRun> {
  const cpu0 = server.cpuSeconds();
  const args = [
    '-t1',
    `-c${connections}`,
    `-d${seconds}s`,
    '--timeout',
    '10s',
    '-s',
    WRK_SCRIPT,
    server.url,
    '--',
    // As kube-apiserver calls a webhook: the URL carries `?timeout=<timeoutSeconds>s`.
    ...Object.entries(bodies).map(([p, f]) => `${p}?timeout=10s=${f}`),
    ...(close ? ['close'] : []),
  ];
  const r = await run('wrk', args, { timeoutMs: (seconds + 30) * 1000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('WRKJSON '));
  if (r.code !== 0 || !line) throw new Error(`wrk failed (${r.code}): ${r.stderr}${r.stdout}`);
  const j = JSON.parse(line.slice(8));
  const secs = j.duration_us / 1e6;
  return withCpu(server, {
    requests: j.requests,
    seconds: secs,
    rps: j.requests / secs,
    p50_ms: j.p50_us / 1000,
    p90_ms: j.p90_us / 1000,
    p99_ms: j.p99_us / 1000,
    max_ms: j.max_us / 1000,
    errors: j.connect_errors + j.read_errors + j.write_errors + j.timeouts + j.non2xx,
  }, cpu0);
}

/**
 * A new TCP connection and a full TLS handshake per request: ab without -k
 * (HTTP/1.0, no session resumption). Latency includes connect + handshake.
 */
export async function abRun(
  server: Target,
  { concurrency, seconds, path: urlPath, bodyFile, tmpDir }: { concurrency: number; seconds: number; path: string; bodyFile: string; tmpDir: string },
): Promise<LoadRun> {
  const cpu0 = server.cpuSeconds();
  const csv = path.join(tmpDir, `ab-${server.port}-${Date.now()}.csv`);
  const args = ['-q', '-t', String(seconds), '-n', '10000000', '-c', String(concurrency), '-s', '10', '-e', csv, '-p', bodyFile, '-T', 'application/json', `${server.url}${urlPath}`];
  const r = await run('ab', args, { timeoutMs: (seconds + 30) * 1000 });
  if (r.code !== 0) throw new Error(`ab failed (${r.code}): ${r.stderr}${r.stdout}`);
  const num = (re: RegExp) => Number(re.exec(r.stdout)?.[1] ?? NaN);
  const requests = num(/Complete requests:\s+(\d+)/);
  const secs = num(/Time taken for tests:\s+([\d.]+)/);
  const failed = num(/Non-2xx responses:\s+(\d+)/) || 0;
  const f = /\(Connect: (\d+), Receive: (\d+), Length: \d+, Exceptions: (\d+)\)/.exec(r.stdout);
  const exceptions = f ? Number(f[1]) + Number(f[2]) + Number(f[3]) : 0;
  const pct = new Map(
    readFileSync(csv, 'utf8')
      .split('\n')
      .slice(1)
      .filter(Boolean)
      .map((l) => l.split(',').map(Number) as [number, number]),
  );
  rmSync(csv, { force: true });
  return withCpu(server, {
    requests,
    seconds: secs,
    rps: requests / secs,
    p50_ms: pct.get(50) ?? NaN,
    p90_ms: pct.get(90) ?? NaN,
    p99_ms: pct.get(99) ?? NaN,
    max_ms: pct.get(100) ?? NaN,
    errors: failed + exceptions,
  }, cpu0);
}

/**
 * Open loop at a fixed rate over keep-alive connections: h2load --h1 --rps
 * (rate per connection), latency of every request from its log file.
 */
export async function h2loadRate(
  server: Target,
  { rate, seconds, path: urlPath, bodyFile, tmpDir, connections = 10 }: { rate: number; seconds: number; path: string; bodyFile: string; tmpDir: string; connections?: number },
): Promise<LoadRun & { log: H2loadRow[] }> {
  const cpu0 = server.cpuSeconds();
  const logFile = path.join(tmpDir, `h2load-${server.port}-${Date.now()}.log`);
  const perConn = Math.max(1, Math.round(rate / connections));
  const args = [
    '--h1',
    '-c',
    String(connections),
    '--rps',
    String(perConn),
    '-D',
    String(seconds),
    '--warm-up-time',
    '1',
    '-d',
    bodyFile,
    '-H',
    'content-type: application/json',
    `--log-file=${logFile}`,
    `${server.url}${urlPath}`,
  ];
  const r = await run('h2load', args, { timeoutMs: (seconds + 30) * 1000 });
  if (r.code !== 0) throw new Error(`h2load failed (${r.code}): ${r.stderr}${r.stdout}`);
  const rows = readFileSync(logFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t').map(Number) as H2loadRow);
  rmSync(logFile, { force: true });
  const lat = rows.filter((x) => x[1] >= 200 && x[1] < 300).map((x) => x[2] / 1000).sort((a, b) => a - b);
  let first = Infinity;
  let last = -Infinity;
  for (const x of rows) {
    first = Math.min(first, x[0]);
    last = Math.max(last, x[0] + x[2]);
  }
  const span = rows.length > 1 ? (last - first) / 1e6 : seconds;
  return { ...withCpu(server, {
    requests: rows.length,
    seconds: span,
    rps: rows.length / span,
    p50_ms: percentile(lat, 50),
    p90_ms: percentile(lat, 90),
    p99_ms: percentile(lat, 99),
    max_ms: lat[lat.length - 1] ?? NaN,
    errors: rows.length - lat.length,
  }, cpu0), log: rows };
}

/** A line of h2load's --log-file: start time (µs, epoch), HTTP status, duration (µs). */
export type H2loadRow = [startUs: number, status: number, durationUs: number];
