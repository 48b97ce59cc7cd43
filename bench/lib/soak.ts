// The soak: our server at a fixed 1,000 req/s for 10 minutes (5 with --quick),
// /mutate and /validate alternating by minute, with its resident memory read
// from /proc every 5 s. What it shows: no growth after the first minute (< 5 %),
// a last minute as fast as the second (p99 within 1.2x), and no error.
import { h2loadRate } from './load.ts';
import type { RunningServer } from './servers.ts';
import { percentile, round, rssMiB } from './util.ts';

export interface SoakMinute {
  minute: number;
  requests: number;
  errors: number;
  p50_ms: number;
  p99_ms: number;
  rss_mib: number;
}

export interface SoakFigures {
  minutes: number;
  rate: number;
  per_minute: SoakMinute[];
  rss_samples: { seconds: number; rss_mib: number }[];
  /** RSS at the end over RSS after the first minute, -1. */
  rss_growth_after_first_minute: number;
  /** p99 of the last minute over the second minute's. */
  p99_last_vs_second: number;
  errors: number;
}

export async function soakPart(
  server: RunningServer,
  { minutes, rate, files, tmpDir, onMinute }: { minutes: number; rate: number; files: Record<'mutate' | 'validate', string>; tmpDir: string; onMinute?: (m: SoakMinute) => void },
): Promise<SoakFigures> {
  const started = Date.now();
  const rssSamples: SoakFigures['rss_samples'] = [];
  const sample = async () => rssSamples.push({ seconds: round((Date.now() - started) / 1000, 1), rss_mib: round(await rssMiB(server.pid), 1) });
  await sample();
  const timer = setInterval(() => void sample(), 5000);
  const perMinute: SoakMinute[] = [];
  try {
    for (let m = 0; m < minutes; m++) {
      const endpoint = m % 2 === 0 ? 'validate' : 'mutate';
      // h2load's --warm-up-time is excluded from its log: the minute is what is measured.
      const r = await h2loadRate(server, { rate, seconds: 60, path: `/${endpoint}`, bodyFile: files[endpoint], tmpDir });
      const latencies = r.log.filter((x) => x[1] >= 200 && x[1] < 300).map((x) => x[2] / 1000).sort((a, b) => a - b);
      const minute = {
        minute: m + 1,
        requests: r.requests,
        errors: r.errors,
        p50_ms: round(percentile(latencies, 50), 3),
        p99_ms: round(percentile(latencies, 99), 3),
        rss_mib: round(await rssMiB(server.pid), 1),
      };
      perMinute.push(minute);
      onMinute?.(minute);
    }
  } finally {
    clearInterval(timer);
  }
  await sample();
  const afterFirst = perMinute[0]!.rss_mib;
  const last = perMinute.at(-1)!;
  const second = perMinute[1] ?? perMinute[0]!;
  return {
    minutes,
    rate,
    per_minute: perMinute,
    rss_samples: rssSamples,
    rss_growth_after_first_minute: round(last.rss_mib / afterFirst - 1, 4),
    p99_last_vs_second: round(last.p99_ms / second.p99_ms, 3),
    errors: perMinute.reduce((a, m) => a + m.errors, 0),
  };
}
