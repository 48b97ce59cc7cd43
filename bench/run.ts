// kgateway-admission benchmark. See bench/README.md.
//
//   npm run bench                          # everything, full length
//   npm run bench -- --quick --json FILE   # short run (< 3 min), figures as JSON
//   npm run bench -- --only keepalive,scale
//   npm run bench -- --profile [--seconds 10]   # CPU profile of our server under load
//   npm run bench -- --experiments              # prototype fixes measured side by side
//
// Parts: keepalive, fresh, rate, scale, apiserver, matchconditions, startup, worstcase, soak.
// Charts (SVG) of the figures go to bench/results/.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ensureCertificates } from '#dist/certificates/files.js';
import { apiserverPart, type ApiserverFigures } from './lib/apiserver.ts';
import { matchConditionsPart, type MatchConditionFigures } from './lib/matchConditions.ts';
import { admissionBodies } from './lib/bodies.ts';
import { summarizeProfile } from './lib/cpuprofile.ts';
import { abRun, h2loadRate, wrkRun, type LoadRun } from './lib/load.ts';
import { chartMemoryLimitMiB, chartNodeArgs, memoryCgroup } from './lib/memoryLimit.ts';
import { startServer, type RunningServer, type ServerOptions } from './lib/servers.ts';
import { ensureGoPeer } from './peers/goPeer.ts';
import { startupPart } from './lib/startup.ts';
import { ensureTools, toolVersions } from './lib/tools.ts';
import { worstCasePart, type WorstCaseFigures } from './lib/worstCase.ts';
import { soakPart, type SoakFigures } from './lib/soak.ts';
import { writeCharts } from './lib/charts.ts';
import { log, median, REPO_ROOT, round, rssMiB, run, table, type Row } from './lib/util.ts';

const ALL_PARTS = ['keepalive', 'fresh', 'rate', 'scale', 'apiserver', 'matchconditions', 'startup', 'worstcase', 'soak'];
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'string' },
    only: { type: 'string' },
    profile: { type: 'boolean', default: false },
    experiments: { type: 'boolean', default: false },
    seconds: { type: 'string' },
    'build-control-plane': { type: 'boolean' },
  },
});
const quick = args.quick;
const parts = new Set(args.only ? args.only.split(',').map((s) => s.trim()) : ALL_PARTS);
for (const p of parts) if (!ALL_PARTS.includes(p)) throw new Error(`unknown part ${p}; parts: ${ALL_PARTS.join(', ')}`);

// Run lengths. Quick keeps the whole run under 3 minutes on the 2-core machine.
const P = quick
  ? { soakMinutes: 5, kaSecs: 2, kaRounds: 2, freshSecs: 2, freshRounds: 2, rateSecs: 3, scaleIters: 20_000, scaleRateSecs: 2, scaleRateRuns: 1, apiPerKind: 300, apiBlock: 50, startupRuns: 3, worstRounds: 5 }
  : { soakMinutes: 10, kaSecs: 5, kaRounds: 5, freshSecs: 5, freshRounds: 4, rateSecs: 10, scaleIters: 100_000, scaleRateSecs: 5, scaleRateRuns: 3, apiPerKind: 2000, apiBlock: 100, startupRuns: 10, worstRounds: 10 };
const CONNECTIONS = [1, 16, 100];
const FRESH_CONCURRENCY = 16;
const RATE = 1000;
const GRANT_SIZES = (process.env.KGA_BENCH_GRANTS ?? "10,1000,10000,100000").split(",").map(Number);
const KYVERNO_P90_MS_AT_100 = 68;

const began = Date.now();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'kga-bench-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

/** Figures of one server over rounds, as written to the JSON. */
interface Picked {
  rps: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  cpu_us_per_req: number;
  errors?: number;
}
interface PeerFigures {
  rps: number;
  p99_ms: number;
  cpu_us_per_request: number;
  errors?: number;
}
type Endpoint = 'mutate' | 'validate';
interface KeepaliveEntry {
  ours: Picked;
  ceiling: Picked;
  ratio: number;
  ratio_cpu: number;
  ours_warn: Picked;
  ratio_warn: number;
  ratio_cpu_warn: number;
}
interface KeepaliveFigures extends KeepaliveEntry {
  connections: Record<number, KeepaliveEntry>;
  peers: Record<string, Record<Endpoint, Record<number, PeerFigures>> | { skipped: string }>;
  kyverno_p90_ms_at_100: number;
}
interface ScaleEntry {
  grants: number;
  p99_ms: number;
  https_p50_ms: number;
  https_p99_ms: number;
  https_p99_baseline_ms?: number;
  https_p99_vs_baseline?: number;
  rss_mib: number;
  rss_peak_mib: number;
  rss_unlimited_mib: number;
  memory_limit_mib: number | null;
  oom_kills: number;
  [figure: string]: unknown;
}
interface Results {
  machine: {
    cpus: number;
    cpu_model: string | undefined;
    mem_gib: number;
    node: string;
    loadavg_start: number[];
    loadavg_end?: number[];
    mode: string;
    tools?: Record<string, string>;
    seconds?: number;
  };
  bodies?: { mutate_bytes: number; validate_bytes: number };
  keepalive?: KeepaliveFigures;
  fresh?: KeepaliveEntry & { concurrency: number };
  rate_1000?: Record<Endpoint, Record<'ours' | 'ceiling', Picked>>;
  scale?: ScaleEntry[];
  apiserver?: ApiserverFigures;
  apiserver_skipped?: string;
  apiserver_error?: string;
  match_conditions?: MatchConditionFigures | { skipped: string } | { error: string };
  startup?: Awaited<ReturnType<typeof startupPart>>;
  worst_case?: WorstCaseFigures;
  soak?: SoakFigures;
  targets?: TargetRow[];
}

const results: Results = {
  machine: {
    cpus: os.cpus().length,
    cpu_model: os.cpus()[0]?.model,
    mem_gib: round(os.totalmem() / 2 ** 30, 1),
    node: process.version,
    loadavg_start: os.loadavg().map((x) => round(x, 2)),
    mode: quick ? 'quick' : 'full',
  },
};

const pick = (r: LoadRun): Picked => ({
  rps: round(r.rps, 0),
  p50_ms: round(r.p50_ms, 3),
  p90_ms: round(r.p90_ms, 3),
  p99_ms: round(r.p99_ms, 3),
  cpu_us_per_req: round(r.serverCpuUsPerReq, 1),
  ...(r.errors ? { errors: r.errors } : {}),
});

/** Aggregates rounds of one server: summed throughput, median percentiles. */
function aggregate(rounds: readonly LoadRun[]): LoadRun {
  const requests = rounds.reduce((a, r) => a + r.requests, 0);
  const seconds = rounds.reduce((a, r) => a + r.seconds, 0);
  const cpu = rounds.reduce((a, r) => a + (r.serverCpuUsPerReq * r.requests) / 1e6, 0);
  return {
    requests,
    seconds,
    rps: requests / seconds,
    p50_ms: median(rounds.map((r) => r.p50_ms)),
    max_ms: Math.max(...rounds.map((r) => r.max_ms)),
    p90_ms: median(rounds.map((r) => r.p90_ms)),
    p99_ms: median(rounds.map((r) => r.p99_ms)),
    serverCpuUsPerReq: (cpu * 1e6) / requests,
    errors: rounds.reduce((a, r) => a + r.errors, 0),
  };
}

/** Median over rounds of ours/ceiling from runs next to each other in time. */
const pairedRatio = (ours: readonly LoadRun[], ceiling: readonly LoadRun[]) => round(median(ours.map((o, i) => o.rps / ceiling[i]!.rps)), 3);
/** Ceiling's server CPU per request over ours: the ratio neighbours on the machine disturb least. */
const cpuRatio = (ours: readonly LoadRun[], ceiling: readonly LoadRun[]) => round(aggregate(ceiling).serverCpuUsPerReq / aggregate(ours).serverCpuUsPerReq, 3);

async function setup(): Promise<BenchEnv> {
  const certs = await ensureCertificates(path.join(tmp, 'certs'), ['127.0.0.1', 'localhost']);
  const bodies = admissionBodies();
  const files = { mutate: path.join(tmp, 'mutate.json'), validate: path.join(tmp, 'validate.json') };
  writeFileSync(files.mutate, bodies.mutate);
  writeFileSync(files.validate, bodies.validate);
  const warnConfig = path.join(tmp, 'warn.yaml');
  writeFileSync(warnConfig, 'logLevel: warn\n');
  results.bodies = { mutate_bytes: bodies.mutate.length, validate_bytes: bodies.validate.length };
  return { certFile: certs.certFile, keyFile: certs.keyFile, files, warnConfig };
}

/**
 * Ours (info and warn), the ceiling and, for the keep-alive part, the peers:
 * the bare-Node floor and the controller-runtime webhook (built into the
 * tools cache first; skipped with a loud line where Go is absent).
 */
interface BenchEnv {
  certFile: string;
  keyFile: string;
  files: Record<Endpoint, string>;
  warnConfig: string;
}

type Servers = { ceiling: RunningServer; ours: RunningServer; oursWarn: RunningServer } & Partial<Record<'floor' | 'go', RunningServer>>;

async function startServers(env: BenchEnv, { peers }: { peers: boolean }): Promise<{ servers: Servers; skipped: Record<string, string> }> {
  const c = { certFile: env.certFile, keyFile: env.keyFile };
  const ceiling = await startServer({ kind: 'ceiling', name: 'ceiling', ...c });
  const ours = await startServer({ kind: 'ours', name: 'ours', ...c });
  const oursWarn = await startServer({ kind: 'ours', name: 'ours_warn', config: env.warnConfig, ...c });
  const servers: Servers = { ceiling, ours, oursWarn };
  const skipped: Record<string, string> = {};
  if (peers) {
    servers.floor = await startServer({ kind: 'floor', name: 'floor', ...c });
    const go = await ensureGoPeer({ log });
    if (go.ok) {
      servers.go = await startServer({ kind: 'go', name: 'go', binary: go.path, ...c });
    } else {
      skipped.go = go.reason;
      process.stdout.write(`\n!!! Go peer SKIPPED: ${go.reason} !!!\n\n`);
    }
  }
  return { servers, skipped };
}

type Peer = 'ours' | 'floor' | 'go' | 'ceiling';
const PEERS: Peer[] = ['ours', 'floor', 'go', 'ceiling'];
const PEER_LABELS: Record<Peer, string> = { ours: 'ours (info log)', floor: 'bare Node floor (JSON.parse, uid)', go: 'Go controller-runtime', ceiling: 'bare Node ceiling' };

type ByEndpoint<T> = Record<Endpoint, Record<number, T>>;
type Variant = 'ceiling' | 'ours' | 'ours_warn';
const ENDPOINTS: Endpoint[] = ['mutate', 'validate'];

async function keepalivePart(env: BenchEnv, servers: Servers, skippedPeers: Record<string, string> = {}): Promise<KeepaliveFigures> {
  const bodies = { '/mutate': env.files.mutate, '/validate': env.files.validate };
  log('keep-alive: warming up');
  for (const s of Object.values(servers)) await wrkRun(s, { connections: 16, seconds: 1, bodies });
  const out: Pick<KeepaliveFigures, 'connections' | 'peers'> = { connections: {}, peers: {} };
  const rows: Row[] = [];
  const peerRows: Row[] = [];
  const serverOf = (name: Peer): RunningServer => servers[name]!;
  const peerNames = PEERS.filter((name) => servers[name]);
  const peerRuns = Object.fromEntries(peerNames.map((name) => [name, { mutate: {}, validate: {} }])) as Record<Peer, ByEndpoint<LoadRun[]>>;
  const peerFigures = Object.fromEntries(peerNames.map((name) => [name, { mutate: {}, validate: {} }])) as Record<Peer, ByEndpoint<PeerFigures>>;
  Object.assign(out.peers, peerFigures);
  for (const name of Object.keys(skippedPeers)) out.peers[name] = { skipped: skippedPeers[name]! };
  for (const c of CONNECTIONS) {
    const runs: Record<Variant, LoadRun[]> = { ceiling: [], ours: [], ours_warn: [] };
    for (const name of peerNames) for (const e of ENDPOINTS) peerRuns[name][e][c] = [];
    for (let r = 0; r < P.kaRounds; r++) {
      // Alternate the order so neither side always runs first.
      const order: Variant[] = r % 2 === 0 ? ['ceiling', 'ours', 'ours_warn'] : ['ours_warn', 'ours', 'ceiling'];
      for (const name of order) {
        const server = name === 'ceiling' ? servers.ceiling : name === 'ours' ? servers.ours : servers.oursWarn;
        runs[name].push(await wrkRun(server, { connections: c, seconds: P.kaSecs, bodies }));
      }
      log(`keep-alive ${c} conn round ${r + 1}/${P.kaRounds}: ours ${round(runs.ours[r]!.rps, 0)} rps, ceiling ${round(runs.ceiling[r]!.rps, 0)} rps`);
      // The peers, one endpoint at a time, in the same round and with the
      // same flipping order as above.
      if (peerNames.length > 1) {
        for (const endpoint of r % 2 === 0 ? ENDPOINTS : [...ENDPOINTS].reverse()) {
          for (const name of r % 2 === 0 ? peerNames : [...peerNames].reverse()) {
            const one = { [`/${endpoint}`]: env.files[endpoint] };
            peerRuns[name][endpoint][c]!.push(await wrkRun(serverOf(name), { connections: c, seconds: P.kaSecs, bodies: one }));
          }
        }
        log(
          `keep-alive ${c} conn round ${r + 1}/${P.kaRounds}, per endpoint: ` +
            peerNames.map((name) => `${name} ${round(peerRuns[name].mutate[c]![r]!.rps, 0)}/${round(peerRuns[name].validate[c]![r]!.rps, 0)}`).join(', ') +
            ' rps (/mutate / /validate)',
        );
      }
    }
    for (const endpoint of ENDPOINTS) {
      if (peerNames.length <= 1) break;
      const oursRuns = peerRuns.ours[endpoint][c]!;
      const oursAgg = aggregate(oursRuns);
      for (const name of peerNames) {
        const agg = aggregate(peerRuns[name][endpoint][c]!);
        const figures = { rps: round(agg.rps, 0), p99_ms: round(agg.p99_ms, 3), cpu_us_per_request: round(agg.serverCpuUsPerReq, 1), ...(agg.errors ? { errors: agg.errors } : {}) };
        peerFigures[name][endpoint][c] = figures;
        peerRows.push({
          conn: c,
          endpoint: `/${endpoint}`,
          server: PEER_LABELS[name],
          ...figures,
          rps_vs_ours: name === 'ours' ? '' : pairedRatio(peerRuns[name][endpoint][c]!, oursRuns),
          cpu_vs_ours: name === 'ours' ? '' : round(agg.serverCpuUsPerReq / oursAgg.serverCpuUsPerReq, 3),
        });
      }
    }
    const entry: KeepaliveEntry = {
      ours: pick(aggregate(runs.ours)),
      ceiling: pick(aggregate(runs.ceiling)),
      ratio: pairedRatio(runs.ours, runs.ceiling),
      ratio_cpu: cpuRatio(runs.ours, runs.ceiling),
      ours_warn: pick(aggregate(runs.ours_warn)),
      ratio_warn: pairedRatio(runs.ours_warn, runs.ceiling),
      ratio_cpu_warn: cpuRatio(runs.ours_warn, runs.ceiling),
    };
    out.connections[c] = entry;
    for (const name of ['ours', 'ours_warn', 'ceiling'] as const) {
      rows.push({
        conn: c,
        server: name === 'ours' ? 'ours (info log)' : name === 'ours_warn' ? 'ours (logLevel warn)' : 'bare Node ceiling',
        ...entry[name],
        ratio: name === 'ours' ? entry.ratio : name === 'ours_warn' ? entry.ratio_warn : '',
        ratio_cpu: name === 'ours' ? entry.ratio_cpu : name === 'ours_warn' ? entry.ratio_cpu_warn : '',
      });
    }
  }
  const top = out.connections[100]!;
  const figures: KeepaliveFigures = { ...out, ...top, kyverno_p90_ms_at_100: KYVERNO_P90_MS_AT_100 };
  table(
    `Keep-alive (wrk, 1 thread, /mutate and /validate alternating, ${P.kaRounds}×${P.kaSecs}s per cell)`,
    [
      ['conn', 'conn'],
      ['server', 'server'],
      ['rps', 'req/s'],
      ['p50_ms', 'p50 ms'],
      ['p90_ms', 'p90 ms'],
      ['p99_ms', 'p99 ms'],
      ['cpu_us_per_req', 'server CPU µs/req'],
      ['ratio', 'ratio to ceiling'],
      ['ratio_cpu', 'CPU ratio'],
    ],
    rows,
  );
  process.stdout.write(`p90 at 100 connections: ours ${top.ours.p90_ms} ms; Kyverno's published single-replica figure: p90 ${KYVERNO_P90_MS_AT_100} ms at 100 concurrent clients\n`);
  if (peerRows.length > 0) {
    table(
      `Keep-alive peers (wrk, 1 thread, one endpoint per run, same rounds as above)${skippedPeers.go ? ' — Go peer skipped' : ''}`,
      [
        ['conn', 'conn'],
        ['endpoint', 'endpoint'],
        ['server', 'server'],
        ['rps', 'req/s'],
        ['p99_ms', 'p99 ms'],
        ['cpu_us_per_request', 'server CPU µs/req'],
        ['rps_vs_ours', 'req/s ÷ ours (paired)'],
        ['cpu_vs_ours', 'CPU/req ÷ ours'],
      ],
      peerRows,
    );
  }
  return figures;
}

async function freshPart(env: BenchEnv, servers: Servers): Promise<NonNullable<Results['fresh']>> {
  const runs: Record<Variant, LoadRun[]> = { ceiling: [], ours: [], ours_warn: [] };
  for (let r = 0; r < P.freshRounds; r++) {
    const endpoint: Endpoint = r % 2 === 0 ? 'validate' : 'mutate';
    const order: Variant[] = r % 2 === 0 ? ['ceiling', 'ours', 'ours_warn'] : ['ours_warn', 'ours', 'ceiling'];
    for (const name of order) {
      const server = name === 'ceiling' ? servers.ceiling : name === 'ours' ? servers.ours : servers.oursWarn;
      runs[name].push(
        await abRun(server, { concurrency: FRESH_CONCURRENCY, seconds: P.freshSecs, path: `/${endpoint}`, bodyFile: env.files[endpoint], tmpDir: tmp }),
      );
    }
    log(`fresh round ${r + 1}/${P.freshRounds} (/${endpoint}): ours ${round(runs.ours[r]!.rps, 0)} rps, ceiling ${round(runs.ceiling[r]!.rps, 0)} rps`);
  }
  const out = {
    concurrency: FRESH_CONCURRENCY,
    ours: pick(aggregate(runs.ours)),
    ceiling: pick(aggregate(runs.ceiling)),
    ratio: pairedRatio(runs.ours, runs.ceiling),
    ratio_cpu: cpuRatio(runs.ours, runs.ceiling),
    ours_warn: pick(aggregate(runs.ours_warn)),
    ratio_warn: pairedRatio(runs.ours_warn, runs.ceiling),
    ratio_cpu_warn: cpuRatio(runs.ours_warn, runs.ceiling),
  };
  table(
    `Fresh TLS connection per request (ab without -k, ${FRESH_CONCURRENCY} concurrent, /validate and /mutate rounds, ${P.freshRounds}×${P.freshSecs}s)`,
    [
      ['server', 'server'],
      ['rps', 'req/s'],
      ['p50_ms', 'p50 ms'],
      ['p90_ms', 'p90 ms'],
      ['p99_ms', 'p99 ms'],
      ['cpu_us_per_req', 'server CPU µs/req'],
      ['ratio', 'ratio to ceiling'],
      ['ratio_cpu', 'CPU ratio'],
    ],
    [
      { server: 'ours (info log)', ...out.ours, ratio: out.ratio, ratio_cpu: out.ratio_cpu },
      { server: 'ours (logLevel warn)', ...out.ours_warn, ratio: out.ratio_warn, ratio_cpu: out.ratio_cpu_warn },
      { server: 'bare Node ceiling', ...out.ceiling },
    ],
  );
  return out;
}

async function ratePart(env: BenchEnv, servers: Servers): Promise<NonNullable<Results['rate_1000']>> {
  const out = { mutate: {}, validate: {} } as NonNullable<Results['rate_1000']>;
  const rows: Row[] = [];
  for (const endpoint of ENDPOINTS) {
    for (const name of ['ours', 'ceiling'] as const) {
      const server = name === 'ours' ? servers.ours : servers.ceiling;
      const r = await h2loadRate(server, { rate: RATE, seconds: P.rateSecs, path: `/${endpoint}`, bodyFile: env.files[endpoint], tmpDir: tmp });
      out[endpoint][name] = pick(r);
      rows.push({ endpoint: `/${endpoint}`, server: name === 'ours' ? 'ours (info log)' : 'bare Node ceiling', ...out[endpoint][name] });
    }
  }
  table(
    `Fixed rate ${RATE} req/s (h2load --h1 --rps, 10 keep-alive connections, ${P.rateSecs}s per row)`,
    [
      ['endpoint', 'endpoint'],
      ['server', 'server'],
      ['rps', 'req/s'],
      ['p50_ms', 'p50 ms'],
      ['p90_ms', 'p90 ms'],
      ['p99_ms', 'p99 ms'],
      ['cpu_us_per_req', 'server CPU µs/req'],
    ],
    rows,
  );
  return out;
}

/** The stand-in API server for `serve --kubeconfig`, in its own process. */
async function startStandInApi(grants: number, kubeconfig: string): Promise<{ stop(): Promise<void> }> {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bench', 'lib', 'standInApiServer.ts'), '--grants', String(grants), '--kubeconfig', kubeconfig], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`stand-in API server exited (${code})`)));
  });
  return {
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** `serve --kubeconfig` with a live view of n grants from a stand-in API server, ready. */
interface Live {
  server: RunningServer;
  stop(): Promise<void>;
}

async function startLive(env: BenchEnv, n: number, memoryLimitMiB: number | undefined, label = ''): Promise<Live> {
  const kubeconfig = path.join(tmp, `kubeconfig-${n}${label}.json`);
  const api = await startStandInApi(n, kubeconfig);
  try {
    const name = `live-${n}${label}${memoryLimitMiB ? `-limit${memoryLimitMiB}` : ''}`;
    // Under the chart's memory limit the server also gets the chart's NODE_OPTIONS, as in a pod.
    const nodeArgs = memoryLimitMiB ? chartNodeArgs() : [];
    const server = await startServer({ kind: 'ours', name, certFile: env.certFile, keyFile: env.keyFile, config: env.warnConfig, kubeconfig, readyTimeoutMs: 120_000, memoryLimitMiB, nodeArgs });
    return {
      server,
      stop: async () => {
        await server.stop();
        await api.stop();
      },
    };
  } catch (error) {
    await api.stop();
    throw error;
  }
}

/**
 * One live server with n grants: its sync time, HTTPS latency at 1000 req/s
 * on /validate, and resident memory after that load. With a `baseline`
 * server (the smallest size, kept up for the whole part), its rounds
 * alternate with the baseline's, so the p99 ratio compares moments of the
 * same machine rather than runs minutes apart.
 */
async function liveRun(env: BenchEnv, n: number, memoryLimitMiB: number | undefined, baseline: Live | undefined) {
  const live = await startLive(env, n, memoryLimitMiB);
  const { server } = live;
  try {
    const rssReady = await rssMiB(server.pid);
    const rate = (target: RunningServer) => h2loadRate(target, { rate: RATE, seconds: P.scaleRateSecs, path: '/validate', bodyFile: env.files.validate, tmpDir: tmp });
    // Median of the runs' percentiles: one GC pause or a neighbour's burst does not decide it.
    const rateRuns: LoadRun[] = [];
    const baselineRuns: LoadRun[] = [];
    for (let i = 0; i < P.scaleRateRuns; i++) {
      if (baseline && i % 2 === 0) baselineRuns.push(await rate(baseline.server));
      rateRuns.push(await rate(server));
      if (baseline && i % 2 === 1) baselineRuns.push(await rate(baseline.server));
    }
    const status = readFileSync(`/proc/${server.pid}/status`, 'utf8');
    return {
      rss_mib: round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) / 1024, 1),
      rss_peak_mib: round(Number(/VmHWM:\s+(\d+)/.exec(status)?.[1]) / 1024, 1),
      rss_ready_mib: round(rssReady, 1),
      oom_kills: server.oomKills(),
      sync_ms: server.readyMs,
      https_p50_ms: round(median(rateRuns.map((x) => x.p50_ms)), 3),
      https_p99_ms: round(median(rateRuns.map((x) => x.p99_ms)), 3),
      ...(baseline
        ? {
            https_p99_baseline_ms: round(median(baselineRuns.map((x) => x.p99_ms)), 3),
            https_p99_vs_baseline: round(median(rateRuns.map((x, i) => x.p99_ms / baselineRuns[i]!.p99_ms)), 3),
          }
        : {}),
    };
  } finally {
    await live.stop();
  }
}

/** The chart's memory limit, and whether this machine can run a server under it. */
function chartMemoryLimit(): { mib: number; unavailable?: string } {
  const mib = chartMemoryLimitMiB();
  const probe = memoryCgroup(mib, `kga-bench-probe-${process.pid}`);
  if ('unavailable' in probe) return { mib, unavailable: probe.unavailable };
  probe.remove();
  return { mib };
}

async function scalePart(env: BenchEnv): Promise<ScaleEntry[]> {
  const out: ScaleEntry[] = [];
  const memoryLimit = chartMemoryLimit();
  if (memoryLimit.unavailable) log(`NOTE: RSS is measured with no memory limit only (${memoryLimit.unavailable}); the chart runs the server under ${memoryLimit.mib} MiB`);
  // The smallest size, up for the whole part: every size's HTTPS rounds
  // alternate with rounds on it (against itself for the smallest size: a
  // second server of the same size, which shows the noise floor).
  const baseline = await startLive(env, GRANT_SIZES[0]!, memoryLimit.unavailable ? undefined : memoryLimit.mib, '-baseline');
  try {
    for (const n of GRANT_SIZES) {
      // Decision time and the view's memory, in a process of its own.
      const child = await run(process.execPath, ['--expose-gc', path.join(REPO_ROOT, 'bench', 'scale-child.ts'), '--grants', String(n), '--iterations', String(P.scaleIters)], {
        timeoutMs: 300_000,
      });
      if (child.code !== 0) throw new Error(`scale child (${n} grants) failed: ${child.stderr}`);
      const d = JSON.parse(child.stdout.trim().split('\n').at(-1) ?? '{}');

      // The real server with a live view of n grants (serve --kubeconfig
      // against a stand-in API server): as the chart deploys it (in a memory
      // cgroup at the chart's resources.limits.memory, so Node sizes its heap
      // from the limit as in a pod), and with no limit, as on a workstation.
      const limited = memoryLimit.unavailable ? undefined : await liveRun(env, n, memoryLimit.mib, baseline);
      const unlimited = await liveRun(env, n, undefined, memoryLimit.unavailable ? baseline : undefined);
      const live = limited ?? unlimited;
      const entry: ScaleEntry = {
        grants: n,
        namespaces: d.namespaces,
        p50_ms: round(d.p50_ms, 4),
        p99_ms: round(d.p99_ms, 4),
        allowed_p99_ms: round(d.allowed_p99_ms, 4),
        denied_p99_ms: round(d.denied_p99_ms, 4),
        memory_limit_mib: limited ? memoryLimit.mib : null,
        rss_mib: live.rss_mib,
        rss_peak_mib: live.rss_peak_mib,
        rss_ready_mib: live.rss_ready_mib,
        oom_kills: live.oom_kills,
        rss_unlimited_mib: unlimited.rss_mib,
        rss_unlimited_peak_mib: unlimited.rss_peak_mib,
        sync_ms: live.sync_ms,
        https_p50_ms: live.https_p50_ms,
        https_p99_ms: live.https_p99_ms,
        https_p99_baseline_ms: live.https_p99_baseline_ms,
        https_p99_vs_baseline: live.https_p99_vs_baseline,
        view_only_rss_mib: d.rss_view_mib,
        view_only_build_ms: d.build_ms,
        decisions: d.decisions,
      };
      out.push(entry);
      log(
        `scale ${n} grants: decision p99 ${entry.p99_ms} ms, HTTPS p99 ${entry.https_p99_ms} ms (${GRANT_SIZES[0]} grants in alternate rounds: ${entry.https_p99_baseline_ms} ms), RSS ${entry.rss_mib} MiB (peak ${entry.rss_peak_mib}${limited ? `, under the chart's ${memoryLimit.mib} MiB limit, OOM kills ${entry.oom_kills}` : ''}); with no memory limit ${entry.rss_unlimited_mib} MiB (peak ${entry.rss_unlimited_peak_mib})`,
      );
    }
  } finally {
    await baseline.stop();
  }
  table(
    'Scale: ReferenceGrants over 1,000 namespaces (decision = AdmissionEngine.review("validate") in-process; HTTPS = serve --kubeconfig with a live view, 1000 req/s; RSS of that server)',
    [
      ['grants', 'grants'],
      ['p50_ms', 'decision p50 ms'],
      ['p99_ms', 'decision p99 ms'],
      ['allowed_p99_ms', 'allowed p99 ms'],
      ['denied_p99_ms', 'denied p99 ms'],
      ['https_p50_ms', 'HTTPS p50 ms'],
      ['https_p99_ms', 'HTTPS p99 ms'],
      ['https_p99_baseline_ms', `HTTPS p99 ms, ${GRANT_SIZES[0]} grants (alternate rounds)`],
      ['https_p99_vs_baseline', 'HTTPS p99 ratio (median of rounds)'],
      ['rss_mib', memoryLimit.unavailable ? 'RSS MiB (no limit)' : `RSS MiB (${memoryLimit.mib} MiB limit)`],
      ['rss_peak_mib', 'peak RSS MiB'],
      ['rss_unlimited_mib', 'RSS MiB, no limit'],
      ['rss_unlimited_peak_mib', 'peak, no limit'],
      ['sync_ms', 'start→ready ms'],
      ['view_only_rss_mib', 'view-only process RSS MiB'],
      ['view_only_build_ms', 'view build ms'],
    ],
    out,
  );
  const base = out[0]!;
  const last = out[out.length - 1]!;
  process.stdout.write(
    `decision p99 at ${last.grants} grants vs ${base.grants}: ${round((100 * last.p99_ms) / base.p99_ms - 100, 1)}%; HTTPS p99 against ${base.grants} grants in alternate rounds: ${round(100 * (last.https_p99_vs_baseline ?? NaN) - 100, 1)}% (sequential runs: ${round((100 * last.https_p99_ms) / base.https_p99_ms - 100, 1)}%)\n`,
  );
  return out;
}

async function profileMode(env: BenchEnv): Promise<void> {
  const seconds = Number(args.seconds ?? 10);
  const dir = path.join(tmp, 'prof');
  const bodies = { '/mutate': env.files.mutate, '/validate': env.files.validate };
  const profiled: [string, Partial<ServerOptions>][] = [
    ['ours (info log)', {}],
    ['bare Node ceiling', { kind: 'ceiling' }],
  ];
  for (const [name, extra] of profiled) {
    const profDir = path.join(dir, name.replace(/\W+/g, '-'));
    const s = await startServer({ kind: 'ours', certFile: env.certFile, keyFile: env.keyFile, nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`], ...extra });
    await wrkRun(s, { connections: 16, seconds: 1, bodies });
    const r = await wrkRun(s, { connections: 16, seconds, bodies });
    await s.stop('SIGINT');
    const { readdirSync } = await import('node:fs');
    const file = path.join(profDir, readdirSync(profDir)[0]!);
    const sum = summarizeProfile(file, { top: 25 });
    const perReq = (ms: number) => round((ms * 1000) / (r.requests + 0), 2);
    table(`CPU profile: ${name}, wrk 16 connections ${seconds}s, ${round(r.rps, 0)} req/s — self time by package`, [
      ['name', 'package'],
      ['ms', 'ms'],
      ['pct', '%'],
      ['us', 'µs/req (approx.)'],
    ], sum.byPackage.slice(0, 15).map((x) => ({ ...x, us: perReq(x.ms) })));
    table(`CPU profile: ${name} — self time by function`, [
      ['name', 'function'],
      ['ms', 'ms'],
      ['pct', '%'],
    ], sum.byFunction);
  }
}

/** Prototype changes to src/, measured beside the product and the ceiling (see bench/experiments/). */
async function experimentsMode(env: BenchEnv): Promise<void> {
  const bodies = { '/mutate': env.files.mutate, '/validate': env.files.validate };
  const c = { certFile: env.certFile, keyFile: env.keyFile };
  const specs = ([
    ['bare Node ceiling', { kind: 'ceiling' }],
    ['bare Node ceiling + JSON.parse of the body', { kind: 'ceiling', extraArgs: ['--parse'] }],
    ['product (serve, info log)', { kind: 'ours' }],
    ['fastify as product', { kind: 'variant', extraArgs: ['--variant', 'fastify'] }],
    ['+ plain JSON.parse body parser', { kind: 'variant', extraArgs: ['--variant', 'fastify', '--parser', 'json'] }],
    ['+ async log destination', { kind: 'variant', extraArgs: ['--variant', 'fastify', '--parser', 'json', '--log', 'async'] }],
    ['fastify, no decision log, no metrics', { kind: 'variant', extraArgs: ['--variant', 'fastify', '--parser', 'json', '--log', 'none', '--metrics', 'none'] }],
    ['raw node:https, log + metrics', { kind: 'variant', extraArgs: ['--variant', 'raw'] }],
    ['raw node:https, no log, no metrics', { kind: 'variant', extraArgs: ['--variant', 'raw', '--log', 'none', '--metrics', 'none'] }],
    ['product, V8 defaults (no nodeFlags)', { kind: 'ours', nodeArgs: ['--no-optimize-for-size', '--max-semi-space-size=0'] }],
    ['product, --optimize-for-size', { kind: 'ours', nodeArgs: ['--optimize-for-size'] }],
    ['product, semi-space 2 MiB', { kind: 'ours', nodeArgs: ['--max-semi-space-size=2'] }],
  ] as [string, Partial<ServerOptions>][]).filter(([name], i) => i === 0 || !process.env.KGA_BENCH_EXPERIMENTS || new RegExp(process.env.KGA_BENCH_EXPERIMENTS).test(name));
  const servers: (RunningServer & { label: string })[] = [];
  for (const [name, o] of specs) servers.push(Object.assign(await startServer({ kind: 'ours', ...c, ...o, name }), { label: name }));
  const seconds = Number(args.seconds ?? 3);
  const rounds = quick ? 2 : 4;
  const connections = 16;
  try {
    for (const s of servers) await wrkRun(s, { connections, seconds: 1, bodies });
    const runs = new Map(servers.map((s) => [s, [] as LoadRun[]]));
    for (let r = 0; r < rounds; r++) {
      for (const s of r % 2 ? [...servers].reverse() : servers) runs.get(s)!.push(await wrkRun(s, { connections, seconds, bodies }));
      log(`experiments: round ${r + 1}/${rounds}`);
    }
    const ceiling = runs.get(servers[0]!)!;
    table(
      `Experiments: keep-alive, wrk ${connections} connections, ${rounds}×${seconds}s per row, interleaved`,
      [
        ['label', 'server'],
        ['rps', 'req/s'],
        ['p99_ms', 'p99 ms'],
        ['cpu_us_per_req', 'server CPU µs/req'],
        ['ratio', 'ratio to ceiling'],
      ],
      servers.map((s) => ({ label: s.label, ...pick(aggregate(runs.get(s)!)), ratio: pairedRatio(runs.get(s)!, ceiling) })),
    );
  } finally {
    for (const s of servers) await s.stop();
  }
}

async function main() {
  if (args.experiments) {
    ensureTools();
    await experimentsMode(await setup());
    return;
  }
  if (args.profile) {
    ensureTools();
    await profileMode(await setup());
    return;
  }
  const needLoad = ['keepalive', 'fresh', 'rate', 'scale'].some((p) => parts.has(p));
  if (needLoad) ensureTools();
  results.machine.tools = needLoad ? toolVersions() : {};
  const env = await setup();
  log(`machine: ${results.machine.cpus} CPUs, load average ${results.machine.loadavg_start.join(' ')}`);
  if (results.machine.loadavg_start[0]! > 1) log('warning: the machine is busy (load average > 1); figures will be noisy — ratios from interleaved rounds are the robust ones');

  if (parts.has('keepalive') || parts.has('fresh') || parts.has('rate')) {
    const { servers, skipped } = await startServers(env, { peers: parts.has('keepalive') });
    try {
      if (parts.has('keepalive')) results.keepalive = await keepalivePart(env, servers, skipped);
      if (parts.has('fresh')) results.fresh = await freshPart(env, servers);
      if (parts.has('rate')) results.rate_1000 = await ratePart(env, servers);
    } finally {
      for (const s of Object.values(servers)) await s.stop();
    }
  }
  if (parts.has('scale')) results.scale = await scalePart(env);
  if (parts.has('apiserver')) {
    const build = args['build-control-plane'] ?? !quick;
    try {
      const r = await apiserverPart({
        perKind: Number(process.env.KGA_BENCH_API_PER_KIND ?? P.apiPerKind),
        block: P.apiBlock,
        build,
        compareEntry: process.env.KGA_BENCH_COMPARE_ENTRY,
        compareArgs: process.env.KGA_BENCH_COMPARE_ARGS?.split(/\s+/).filter(Boolean) ?? [],
        cpuProfileDir: process.env.KGA_BENCH_APISERVER_CPU_PROF,
      });
      if ('skipped' in r) {
        process.stdout.write(`\nThrough the API server: SKIPPED — control plane unavailable: ${r.skipped}\n`);
        results.apiserver_skipped = r.skipped;
      } else {
        results.apiserver = r;
        printApiserver(r);
      }
    } catch (error) {
      process.stdout.write(`\nThrough the API server: FAILED — ${(error as Error).stack ?? error}\n`);
      results.apiserver_error = String((error as Error).message ?? error);
    }
  }
  if (parts.has('matchconditions')) {
    try {
      const r = await matchConditionsPart({ writes: 1000, build: args['build-control-plane'] ?? !quick });
      results.match_conditions = r;
      if ('skipped' in r) process.stdout.write(`\nmatchConditions: SKIPPED — control plane unavailable: ${r.skipped}\n`);
      else printMatchConditions(r);
    } catch (error) {
      process.stdout.write(`\nmatchConditions: FAILED — ${(error as Error).stack ?? error}\n`);
      results.match_conditions = { error: String((error as Error).message ?? error) };
    }
  }
  if (parts.has('startup')) {
    results.startup = await startupPart({ runs: P.startupRuns, certFile: env.certFile, keyFile: env.keyFile });
    const s = results.startup;
    table('Start-up: process start → GET /readyz 200 (serve --manifests examples/, default config)', [
      ['what', 'what'],
      ['median_ms', 'median ms'],
      ['max_ms', 'max ms'],
      ['runs', 'runs'],
    ], [
      { what: 'with --tls-cert/--tls-key', ...s.ready },
      { what: 'generating a CA and certificate (--certs-dir, empty)', ...s.ready_generating_certs },
      { what: 'node -e 0 (Node itself)', ...s.node_baseline },
    ]);
  }

  if (parts.has('worstcase')) {
    results.worst_case = await worstCasePart({ rounds: P.worstRounds });
    const w = results.worst_case;
    table(`Worst cases a tenant can send (in-process, ${P.worstRounds} rounds)`, [
      ['what', 'what'],
      ['median_ms', 'median ms'],
      ['max_ms', 'max ms'],
    ], [
      ...w.watch_event.map((e) => ({ what: `watch event: AgentgatewayBackend with ${e.refs} cross-namespace refs indexed`, ...e })),
      { what: `grant DELETE: guard over ${w.grant_delete.referrers} referrers × ${w.grant_delete.grants} grants`, ...w.grant_delete },
      { what: `review denied: refs into ${w.wide_denial.namespaces} ungranted namespaces (engine, with re-reads)`, ...w.wide_denial },
    ]);
  }
  if (parts.has('soak')) {
    const server = await startServer({ kind: 'ours', name: 'soak', certFile: env.certFile, keyFile: env.keyFile });
    try {
      log(`soak: ${P.soakMinutes} minutes at ${RATE} req/s`);
      results.soak = await soakPart(server, {
        minutes: P.soakMinutes,
        rate: RATE,
        files: env.files,
        tmpDir: tmp,
        onMinute: (m) => log(`soak minute ${m.minute}: p99 ${m.p99_ms} ms, RSS ${m.rss_mib} MiB, errors ${m.errors}`),
      });
    } finally {
      await server.stop();
    }
    table(`Soak: ${RATE} req/s for ${P.soakMinutes} minutes (h2load, /validate and /mutate by minute)`, [
      ['minute', 'minute'],
      ['requests', 'requests'],
      ['p50_ms', 'p50 ms'],
      ['p99_ms', 'p99 ms'],
      ['rss_mib', 'RSS MiB'],
      ['errors', 'errors'],
    ], results.soak.per_minute);
  }
  results.machine.loadavg_end = os.loadavg().map((x) => round(x, 2));
  results.machine.seconds = round((Date.now() - began) / 1000, 1);
  printTargets();
  const chartsDir = path.join(REPO_ROOT, 'bench', 'results');
  mkdirSync(chartsDir, { recursive: true });
  for (const file of writeCharts(results, chartsDir)) log(`wrote ${path.relative(REPO_ROOT, file)}`);
  if (args.json) {
    writeFileSync(args.json, `${JSON.stringify(results, null, 2)}\n`);
    log(`wrote ${args.json}`);
  }
  log(`done in ${results.machine.seconds} s (load average now ${results.machine.loadavg_end.join(' ')})`);
}

type TargetRow = { target: string; value: string; ok: string };

/** The targets of issue 13 (and the older ones still kept), each met or not, with its figures. */
function printTargets() {
  const rows: TargetRow[] = [];
  const add = (target: string, value: string, ok?: boolean) => rows.push({ target, value, ok: ok === undefined ? '' : ok ? 'yes' : 'NO' });
  const k = results.keepalive;
  if (k) {
    const peers = k.peers as Record<string, any>;
    const ours = peers.ours;
    for (const [peer, label] of [['floor', 'the bare Node floor'], ['go', 'the Go controller-runtime peer']] as const) {
      const p = peers[peer];
      if (!p || !ours) continue;
      if (p.skipped) {
        add(`beside ${label}`, `not measured: ${p.skipped}`, false);
        continue;
      }
      for (const c of [16, 100]) {
        for (const e of ['mutate', 'validate']) {
          const o = ours[e][c];
          const t = p[e][c];
          if (!o || !t) continue;
          if (peer === 'floor') {
            const x = o.cpu_us_per_request / t.cpu_us_per_request;
            add(`CPU/request ≤ 1.25x the floor's, /${e}, ${c} conn`, `${round(x, 2)}x (${o.cpu_us_per_request} vs ${t.cpu_us_per_request} µs)`, x <= 1.25);
          } else {
            const x = o.rps / t.rps;
            add(`req/s ≥ 1.3x Go's, /${e}, ${c} conn`, `${round(x, 2)}x (${o.rps} vs ${t.rps})`, x >= 1.3);
            if (c === 100) {
              const y = o.p99_ms / t.p99_ms;
              add(`p99 ≤ 0.5x Go's, /${e}, 100 conn`, `${round(y, 2)}x (${o.p99_ms} vs ${t.p99_ms} ms)`, y <= 0.5);
            }
          }
        }
      }
    }
    for (const c of CONNECTIONS) {
      const e = k.connections[c]!;
      add(`(retired) keep-alive ${c} conn, share of the bare Node ceiling`, `${round(e.ratio * 100, 1)}% (CPU ratio ${round(e.ratio_cpu * 100, 1)}%; logLevel warn: ${round(e.ratio_warn * 100, 1)}%)`);
    }
    add('p90 at 100 connections, beside Kyverno (p90 68 ms at 100 clients)', `${k.ours.p90_ms} ms`);
  }
  const f = results.fresh;
  if (f) add('fresh TLS per request: ≥ 90% of the ceiling', `${round(f.ratio * 100, 1)}% (CPU ratio ${round(f.ratio_cpu * 100, 1)}%; warn: ${round(f.ratio_warn * 100, 1)}%)`, f.ratio >= 0.9);
  const r = results.rate_1000;
  if (r) for (const e of ['mutate', 'validate'] as const) add(`p99 < 5 ms at 1000 req/s, /${e}`, `${r[e].ours.p99_ms} ms`, r[e].ours.p99_ms < 5);
  const s = results.scale;
  if (s && s.length > 0) {
    const a = s[0]!;
    const b = s[s.length - 1]!;
    add(`decision p99 with ${b.grants} grants within 10% of ${a.grants}`, `${b.p99_ms} vs ${a.p99_ms} ms (${round((100 * b.p99_ms) / a.p99_ms - 100, 1)}%)`, b.p99_ms <= a.p99_ms * 1.1);
    const limit = b.memory_limit_mib ? `under the chart's ${b.memory_limit_mib} MiB limit` : 'no memory limit could be set';
    add(
      `HTTPS p99 with ${b.grants} grants ≤ 1.2x ${a.grants} grants (alternate rounds, ${limit})`,
      `${round(b.https_p99_vs_baseline ?? NaN, 2)}x (${b.https_p99_ms} vs ${b.https_p99_baseline_ms} ms; ${a.grants} vs itself: ${round(a.https_p99_vs_baseline ?? NaN, 2)}x)`,
      (b.https_p99_vs_baseline ?? Infinity) <= 1.2,
    );
    add(
      `< 200 MiB resident with ${b.grants} grants (live view, ${limit})`,
      `${b.rss_mib} MiB (peak ${b.rss_peak_mib}${b.oom_kills ? `, ${b.oom_kills} OOM kills` : ''}); no limit: ${b.rss_unlimited_mib} MiB`,
      b.rss_mib < 200 && b.rss_peak_mib < 200 && !b.oom_kills,
    );
  }
  const a = results.apiserver;
  if (a) {
    const gw = a.kinds.Gateway!;
    const pol = a.kinds.HTTPListenerPolicy!;
    const ms = (x: number | undefined) => `${x} ms`;
    if (gw.added_p50_ms.policy !== undefined) {
      const x = gw.added_p50_ms.webhook! / gw.added_p50_ms.policy;
      add('Gateway through the API server: added p50 ≤ 1.5x the MutatingAdmissionPolicy\'s', `${round(x, 2)}x (${ms(gw.added_p50_ms.webhook)} vs ${ms(gw.added_p50_ms.policy)})`, x <= 1.5);
    } else add('Gateway through the API server: added p50 ≤ 1.5x the MutatingAdmissionPolicy\'s', `policy not measured: ${a.policy_skipped}`, false);
    add('HTTPListenerPolicy through the API server: added p50 ≤ 1.0 ms', ms(pol.added_p50_ms.webhook), pol.added_p50_ms.webhook! <= 1);
    for (const [label, k] of [['Gateway', gw], ['HTTPListenerPolicy', pol]] as const) add(`${label} through the API server: added p99 ≤ 3 ms`, ms(k.added_p99_ms.webhook), k.added_p99_ms.webhook! <= 3);
    const ours = (k?.peers as Record<string, any> | undefined)?.ours;
    for (const [label, kf, endpoint] of [['Gateway', gw, 'mutate'], ['HTTPListenerPolicy', pol, 'validate']] as const) {
      const wrk16 = ours?.[endpoint]?.[16]?.cpu_us_per_request as number | undefined;
      const through = kf.cpu_us_per_admission.webhook!;
      if (wrk16 === undefined) add(`${label}: CPU per admission through the API server ≤ 2x wrk's at 16 conn (/${endpoint})`, `${through} µs; wrk not run (--only keepalive,apiserver)`);
      else add(`${label}: CPU per admission through the API server ≤ 2x wrk's at 16 conn (/${endpoint})`, `${round(through / wrk16, 2)}x (${through} vs ${wrk16} µs)`, through <= 2 * wrk16);
      // The same ratios for the floor peer: what any Node webhook pays at the API server's pace, for scale.
      const floorThrough = kf.cpu_us_per_admission.floor;
      const floorWrk16 = (k?.peers as Record<string, any> | undefined)?.floor?.[endpoint]?.[16]?.cpu_us_per_request as number | undefined;
      if (floorThrough !== undefined) {
        add(
          `${label}: (for scale) the floor peer as the webhook, added p50 / CPU per admission, and ours ÷ its`,
          `${kf.added_p50_ms.floor} ms / ${floorThrough} µs${floorWrk16 ? ` (${round(floorThrough / floorWrk16, 2)}x its wrk 16 conn)` : ''}; ours ${round(kf.added_p50_ms.webhook! / kf.added_p50_ms.floor!, 2)}x / ${round(through / floorThrough, 2)}x`,
        );
      }
    }
  } else if (parts.has('apiserver')) add('through the API server', `not measured: ${results.apiserver_skipped ?? results.apiserver_error}`);
  const soak = results.soak;
  if (soak) {
    add(`soak ${soak.minutes} min at ${soak.rate} req/s: RSS growth after the first minute < 5%`, `${round(100 * soak.rss_growth_after_first_minute, 1)}% (${soak.per_minute[0]!.rss_mib} → ${soak.per_minute.at(-1)!.rss_mib} MiB)`, soak.rss_growth_after_first_minute < 0.05);
    add('soak: p99 of the last minute ≤ 1.2x the second minute\'s', `${soak.p99_last_vs_second}x (${soak.per_minute.at(-1)!.p99_ms} vs ${(soak.per_minute[1] ?? soak.per_minute[0]!).p99_ms} ms)`, soak.p99_last_vs_second <= 1.2);
    add('soak: no error', `${soak.errors} errors`, soak.errors === 0);
  }
  if (results.startup) add('start-up to ready (embedded default)', `${results.startup.ready.median_ms} ms median`);
  const w = results.worst_case;
  if (w) {
    const slowest = Math.max(...w.watch_event.map((e) => e.max_ms), w.grant_delete.max_ms);
    add('worst-case watch event and grant DELETE: < 100 ms each (were 0.55–1.7 s)', `${slowest} ms at most`, slowest < 100);
    add(`review with refs into ${w.wide_denial.namespaces} ungranted namespaces: < 500 ms (was 4.6 s)`, `${w.wide_denial.max_ms} ms at most`, w.wide_denial.max_ms < 500);
  }
  results.targets = rows;
  table('Targets', [
    ['target', 'target'],
    ['value', 'measured'],
    ['ok', 'met'],
  ], rows);
}

await main();

function printApiserver(r: ApiserverFigures): void {
  const rows: Row[] = [];
  for (const [kind, k] of Object.entries(r.kinds)) {
    for (const c of r.configurations) {
      const l = k.latency[c]!;
      rows.push({
        kind,
        configuration: c === 'none' ? 'no admission' : c === 'floor' ? 'the floor peer as the webhook' : c === 'policy' ? 'MutatingAdmissionPolicy' + (kind === 'Gateway' ? '' : ' (does not match)') : `our webhook${c === 'webhook' ? '' : ` (${c})`}`,
        p50: l.p50_ms,
        p90: l.p90_ms,
        p99: l.p99_ms,
        added_p50: c === 'none' ? '' : k.added_p50_ms[c],
        added_p99: c === 'none' ? '' : k.added_p99_ms[c],
        cpu: k.cpu_us_per_admission[c] ?? (c === 'none' ? `(${k.cpu_us_per_create_unadmitted} per create, not admitted)` : ''),
      });
    }
  }
  table(
    `Through kube-apiserver ${r.kubernetes ?? ''}: sequential creates, client-side ms, ${r.rounds} rounds × ${r.block} per kind and configuration (load average ${r.loadavg.start[0]} → ${r.loadavg.end[0]})`,
    [
      ['kind', 'objects'],
      ['configuration', 'admission'],
      ['p50', 'p50'],
      ['p90', 'p90'],
      ['p99', 'p99'],
      ['added_p50', 'added p50'],
      ['added_p99', 'added p99'],
      ['cpu', 'our CPU µs per admission'],
    ],
    rows,
  );
  if (r.cpu_profile) process.stdout.write(`CPU profile of our server over the whole part: ${r.cpu_profile}\n`);
}

function printMatchConditions(r: MatchConditionFigures): void {
  const pct = (x: number | undefined) => (x === undefined ? '' : `${round(x * 100, 1)}%`);
  const lat = (l: { p50_ms: number; p99_ms: number } | undefined) => (l ? `${l.p50_ms} / ${l.p99_ms}` : '');
  table(
    `matchConditions through kube-apiserver ${r.kubernetes ?? ''}: ${r.writes} writes, the same mix per phase; share reaching our server, and p50 / p99 ms`,
    [
      ['what', 'writes'],
      ['n', 'n'],
      ['all', 'no conditions: called'],
      ['conditions', 'conditions: called'],
      ['none_ms', 'no webhook: ms'],
      ['all_ms', 'no conditions: ms'],
      ['conditions_ms', 'conditions: ms'],
      ['policy_ms', 'native policy: ms'],
    ],
    [
      ...Object.entries(r.categories).map(([what, c]) => ({
        what,
        n: c.writes,
        all: pct(c.called.all),
        conditions: pct(c.called.conditions),
        none_ms: lat(c.latency.none),
        all_ms: lat(c.latency.all),
        conditions_ms: lat(c.latency.conditions),
        policy_ms: lat(c.latency.policy),
      })),
      { what: 'all writes', n: r.writes, all: pct(r.called_share.all), conditions: pct(r.called_share.conditions) },
      { what: 'the writes conditions skip', none_ms: lat(r.skipped_latency.none), all_ms: lat(r.skipped_latency.all), conditions_ms: lat(r.skipped_latency.conditions), policy_ms: lat(r.skipped_latency.policy) },
    ],
  );
  process.stdout.write(
    `skipped writes: ${r.skipped_added_p50_ms} ms added at p50, ${r.skipped_added_p99_ms} ms at p99 (conditions vs no webhook)\n` +
      `mutated Gateways: the webhook adds ${r.webhook_added_p50_ms} ms at p50, the native MutatingAdmissionPolicy ${r.policy_added_p50_ms} ms${r.policy_skipped ? ` (policy phase skipped: ${r.policy_skipped})` : ''}\n`,
  );
}
