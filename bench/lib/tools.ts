// The load generators are Debian packages, installed here when missing, so a
// fresh machine needs nothing done by hand:
//   wrk            keep-alive closed-loop runs (1, 16, 100 connections)
//   apache2-utils  `ab` without -k: one new connection and full TLS handshake
//                  per request (wrk and h2load resume TLS sessions on reconnect)
//   nghttp2-client `h2load --h1 --rps`: fixed request rate, per-request log
import { execFileSync, spawnSync } from 'node:child_process';
import { log } from './util.ts';

const TOOLS = [
  { bin: 'wrk', pkg: 'wrk' },
  { bin: 'ab', pkg: 'apache2-utils' },
  { bin: 'h2load', pkg: 'nghttp2-client' },
];

function has(bin: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
}

export function ensureTools(): void {
  const missing = TOOLS.filter((t) => !has(t.bin));
  if (missing.length === 0) return;
  const pkgs = missing.map((t) => t.pkg);
  log(`installing load generators with apt-get: ${pkgs.join(' ')}`);
  const sudo = process.getuid?.() === 0 ? [] : ['sudo'];
  const apt = (args: string[]) =>
    execFileSync(sudo[0] ?? 'apt-get', [...(sudo.length ? ['apt-get'] : []), ...args], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  try {
    apt(['install', '-y', '-qq', ...pkgs]);
  } catch {
    apt(['update', '-qq']);
    apt(['install', '-y', '-qq', ...pkgs]);
  }
  const still = TOOLS.filter((t) => !has(t.bin)).map((t) => t.bin);
  if (still.length) throw new Error(`could not install ${still.join(', ')}`);
}

export function toolVersions(): Record<string, string> {
  const first = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    return `${r.stdout}${r.stderr}`.split('\n').find((l) => l.trim()) ?? '';
  };
  return {
    wrk: first('wrk', ['-v']).replace(/\s+Copyright.*$/, ''),
    ab: first('ab', ['-V']),
    h2load: first('h2load', ['--version']),
  };
}
