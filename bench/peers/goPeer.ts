// Builds and locates the Go peer (bench/peers/controller-runtime): a webhook on
// controller-runtime's webhook.Server with the same rules as ours. The binary
// goes to the tools cache beside the control plane's
// (${KGA_TOOLS_DIR:-~/.cache/kgateway-admission}/bin), named with the
// controller-runtime version and a hash of the module's files, so any change
// to the peer rebuilds and anything else reuses.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const GO_PEER_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'controller-runtime');
const REPO_ROOT = path.resolve(GO_PEER_DIR, '..', '..', '..');

/** The go command on PATH, else /usr/local/go/bin/go (as scripts/control-plane.sh looks), else undefined. */
export function findGo(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, 'go'))) return path.join(dir, 'go');
  }
  return existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined;
}

function controllerRuntimeVersion(): string {
  const match = /^\s*sigs\.k8s\.io\/controller-runtime (v\S+)/m.exec(readFileSync(path.join(GO_PEER_DIR, 'go.mod'), 'utf8'));
  if (!match) throw new Error(`${GO_PEER_DIR}/go.mod names no sigs.k8s.io/controller-runtime version`);
  return match[1]!;
}

/** Where the peer's binary is (or would be) for the module as it is now. */
export function goPeerBinaryPath(): string {
  const hash = createHash('sha256');
  for (const file of readdirSync(GO_PEER_DIR).filter((f) => f === 'go.mod' || f === 'go.sum' || f.endsWith('.go')).sort()) {
    hash.update(file).update('\0').update(readFileSync(path.join(GO_PEER_DIR, file))).update('\0');
  }
  const toolsDir = process.env.KGA_TOOLS_DIR ?? path.join(homedir(), '.cache', 'kgateway-admission');
  return path.join(toolsDir, 'bin', `kga-peer-controller-runtime-${controllerRuntimeVersion()}-${hash.digest('hex').slice(0, 12)}`);
}

/**
 * The peer's binary, built first when missing (`go build` under `nice`, a
 * minute or more the first time on a small machine).
 */
export type GoPeer = { ok: true; path: string; built: boolean } | { ok: false; reason: string; goMissing: boolean };

export async function ensureGoPeer(o: { log?: (line: string) => void } = {}): Promise<GoPeer> {
  const out = goPeerBinaryPath();
  if (existsSync(out)) return { ok: true, path: out, built: false };
  const go = findGo();
  if (!go) return { ok: false, goMissing: true, reason: "Go not found (looked for 'go' on PATH and /usr/local/go/bin/go)" };
  mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.tmp.${process.pid}`;
  o.log?.(`building ${path.basename(out)} from ${path.relative(REPO_ROOT, GO_PEER_DIR)} ...`);
  const started = Date.now();
  const args = [go, 'build', '-trimpath', '-ldflags=-s -w', '-o', tmp, '.'];
  const nice: [string, string[]] = existsSync('/usr/bin/nice') ? ['/usr/bin/nice', ['-n', '15', ...args]] : [go, args.slice(1)];
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(nice[0], nice[1], { cwd: GO_PEER_DIR, env: { ...process.env, GOFLAGS: '-mod=mod', CGO_ENABLED: '0' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    child.on('error', (e) => resolve({ code: -1, stderr: String(e) }));
    child.on('exit', (c) => resolve({ code: c, stderr: err }));
  });
  if (code !== 0) {
    rmSync(tmp, { force: true });
    return { ok: false, goMissing: false, reason: `go build of ${GO_PEER_DIR} failed: ${stderr.slice(-2000)}` };
  }
  renameSync(tmp, out);
  o.log?.(`built ${path.basename(out)} in ${Math.round((Date.now() - started) / 1000)} s`);
  return { ok: true, path: out, built: true };
}

/**
 * Arguments of the peer for a certificate and key pair as the bench makes
 * them (controller-runtime reads both from one CertDir).
 */
export function goPeerArgs({ port, certFile, keyFile, manifests = path.join(REPO_ROOT, 'examples') }: { port: number; certFile: string; keyFile: string; manifests?: string }): string[] {
  if (path.dirname(certFile) !== path.dirname(keyFile)) throw new Error('the Go peer reads its certificate and key from one directory (CertDir)');
  return ['--host', '127.0.0.1', '--port', String(port), '--cert-dir', path.dirname(certFile), '--cert-name', path.basename(certFile), '--key-name', path.basename(keyFile), '--manifests', manifests];
}
