// The bench's pictures (bench/results/*.svg, shown in README.md): latency
// percentiles per server, p99 and RSS by number of grants, RSS and p99 over
// the soak. Each is written only when its part ran.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SoakFigures } from './soak.ts';
import { barChart, lineChart } from './svgCharts.ts';

interface Percentiles {
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
}

/** The parts of the bench's results the charts read. */
export interface ChartInput {
  keepalive?: {
    connections: Record<number, { ours: Percentiles; ours_warn: Percentiles; ceiling: Percentiles }>;
    peers: Record<string, Record<string, Record<number, { p99_ms: number; cpu_us_per_request: number; rps: number }>> | { skipped: string }>;
  };
  scale?: { grants: number; https_p99_ms: number; https_p99_baseline_ms?: number; rss_mib: number; rss_unlimited_mib: number }[];
  soak?: SoakFigures;
}

const PEER_NAMES: Record<string, string> = { ours: 'ours', floor: 'Node floor', go: 'Go controller-runtime', ceiling: 'Node ceiling' };

export function writeCharts(results: ChartInput, dir: string): string[] {
  const written: string[] = [];
  const write = (name: string, svg: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, svg);
    written.push(file);
  };
  const k = results.keepalive;
  const top = k?.connections[100];
  if (k && top) {
    write(
      'latency-percentiles.svg',
      barChart({
        title: 'Keep-alive latency at 100 connections (wrk, /mutate and /validate alternating)',
        yLabel: 'ms',
        xLabel: 'percentile',
        categories: ['p50', 'p90', 'p99'],
        series: [
          { name: 'ours (info log)', values: [top.ours.p50_ms, top.ours.p90_ms, top.ours.p99_ms] },
          { name: 'ours (logLevel warn)', values: [top.ours_warn.p50_ms, top.ours_warn.p90_ms, top.ours_warn.p99_ms] },
          { name: 'Node ceiling', values: [top.ceiling.p50_ms, top.ceiling.p90_ms, top.ceiling.p99_ms] },
        ],
      }),
    );
    const peers = Object.entries(k.peers).filter((e): e is [string, Record<string, Record<number, { p99_ms: number; cpu_us_per_request: number; rps: number }>>] => !('skipped' in e[1]));
    if (peers.length > 1) {
      const categories = ['/mutate 16', '/validate 16', '/mutate 100', '/validate 100'];
      const cell = (p: (typeof peers)[number][1], c: string) => {
        const [endpoint, conns] = c.slice(1).split(' ') as [string, string];
        return p[endpoint]?.[Number(conns)];
      };
      write(
        'peers-p99.svg',
        barChart({
          title: 'p99 per server, one endpoint per run (wrk keep-alive)',
          yLabel: 'p99 ms',
          xLabel: 'endpoint, connections',
          categories,
          series: peers.map(([name, p]) => ({ name: PEER_NAMES[name] ?? name, values: categories.map((c) => cell(p, c)?.p99_ms ?? NaN) })),
        }),
      );
      write(
        'peers-cpu.svg',
        barChart({
          title: 'Server CPU per request (utime+stime from /proc; Go uses both cores)',
          yLabel: 'µs per request',
          xLabel: 'endpoint, connections',
          categories,
          series: peers.map(([name, p]) => ({ name: PEER_NAMES[name] ?? name, values: categories.map((c) => cell(p, c)?.cpu_us_per_request ?? NaN) })),
        }),
      );
    }
  }
  const s = results.scale;
  if (s && s.length > 0) {
    write(
      'scale-p99.svg',
      lineChart({
        title: 'HTTPS p99 at 1000 req/s by number of ReferenceGrants (live view)',
        yLabel: 'p99 ms',
        xLabel: 'ReferenceGrants (log scale)',
        logX: true,
        series: [
          { name: 'with N grants', points: s.map((e) => [e.grants, e.https_p99_ms] as const) },
          { name: 'smallest size, same moments', points: s.map((e) => [e.grants, e.https_p99_baseline_ms ?? NaN] as const) },
        ],
      }),
    );
    write(
      'scale-rss.svg',
      lineChart({
        title: 'Resident memory by number of ReferenceGrants (live view)',
        yLabel: 'RSS MiB',
        xLabel: 'ReferenceGrants (log scale)',
        logX: true,
        series: [
          { name: "under the chart's limit", points: s.map((e) => [e.grants, e.rss_mib] as const) },
          { name: 'no memory limit', points: s.map((e) => [e.grants, e.rss_unlimited_mib] as const) },
        ],
      }),
    );
  }
  const soak = results.soak;
  if (soak) {
    write(
      'soak-rss.svg',
      lineChart({
        title: `Soak: resident memory at ${soak.rate} req/s`,
        yLabel: 'RSS MiB',
        xLabel: 'seconds',
        series: [{ name: 'ours', points: soak.rss_samples.map((x) => [x.seconds, x.rss_mib] as const) }],
      }),
    );
    write(
      'soak-p99.svg',
      lineChart({
        title: `Soak: latency per minute at ${soak.rate} req/s`,
        yLabel: 'ms',
        xLabel: 'minute',
        series: [
          { name: 'p99', points: soak.per_minute.map((m) => [m.minute, m.p99_ms] as const) },
          { name: 'p50', points: soak.per_minute.map((m) => [m.minute, m.p50_ms] as const) },
        ],
      }),
    );
  }
  return written;
}
