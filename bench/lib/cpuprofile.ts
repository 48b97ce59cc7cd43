// Summarises a V8 .cpuprofile (node --cpu-prof): self time by function and by
// package, and inclusive ("total") time of selected frames.
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileRow {
  name: string;
  ms: number;
  pct: number;
}

function packageOf(url: string): string {
  if (!url) return '(native/V8)';
  if (url.startsWith('node:')) {
    const mod = url.slice(5);
    if (mod.startsWith('internal/tls') || mod.startsWith('_tls') || mod === 'tls' || mod.startsWith('internal/crypto')) return 'node:tls';
    if (mod.includes('http') || mod.startsWith('_http')) return 'node:http';
    if (mod.startsWith('internal/streams') || mod.startsWith('stream')) return 'node:streams';
    return 'node:other';
  }
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 14).split('/');
    const first = rest[0] ?? '';
    return first.startsWith('@') ? `${first}/${rest[1]}` : first;
  }
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return `dist/${url.slice(dist + 6).split('/')[0]}`;
  return url.split('/').at(-1) ?? url;
}

/**
 */
export function summarizeProfile(
  file: string,
  { top = 25, inclusiveOf = [] }: { top?: number; inclusiveOf?: string[] } = {},
): { totalMs: number; byPackage: ProfileRow[]; byFunction: ProfileRow[]; inclusive: Record<string, number> } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  const dts = profile.timeDeltas;
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + (dts[i] ?? 0));
  }
  let total = 0;
  const byPackage = new Map<string, number>();
  const byFunction = new Map<string, number>();
  const inclusive: Record<string, number> = Object.fromEntries(inclusiveOf.map((k) => [k, 0]));
  for (const [id, us] of self) {
    const n = nodes.get(id)!;
    const cf = n.callFrame;
    const fname = cf.functionName || '(anonymous)';
    if (fname === '(idle)' || fname === '(program)') {
      if (fname === '(idle)') continue;
    }
    total += us;
    const pkg = fname === '(garbage collector)' ? '(gc)' : fname === '(program)' ? '(program)' : packageOf(cf.url);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
    const key = `${fname.slice(0, 60)} ${cf.url ? `${cf.url.replace(/^.*\/(node_modules|dist)\//, '$1/').replace(/^file:.*\/bench\//, 'bench/')}:${cf.lineNumber + 1}` : ''}`.trim();
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    if (inclusiveOf.length) {
      // Walk up the stack once per frame name so recursion counts once.
      const seen = new Set<string>();
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        const name = nodes.get(cur)!.callFrame.functionName;
        if (inclusive[name] !== undefined && !seen.has(name)) {
          inclusive[name] = inclusive[name]! + us;
          seen.add(name);
        }
      }
    }
  }
  const rows = (m: Map<string, number>): ProfileRow[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: Math.round(us / 1000), pct: Math.round((1000 * us) / total) / 10 }));
  for (const k of Object.keys(inclusive)) inclusive[k] = Math.round((1000 * inclusive[k]!) / total) / 10;
  return { totalMs: Math.round(total / 1000), byPackage: rows(byPackage), byFunction: rows(byFunction), inclusive };
}
