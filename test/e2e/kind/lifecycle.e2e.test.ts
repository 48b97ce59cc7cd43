// `npm run kind:down` after a killed `npm run kind:up` leaves the host as it
// found it: no container, podman network, bridge, mount, /lib/modules or
// sysctl change (net.ipv4.ip_forward put back as it was before up). On the
// podman path only: it is the one that changes the host (with Docker, kind
// and the engine own all of it). Part of project e2e-kind; it deletes the
// shared cluster, so the suite that runs after it makes a new one.
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { REPO_ROOT } from '../../../harness/index.ts';
import { KIND, kindProvider, runKindScript } from '../../support/kindTarget.js';

const execFileP = promisify(execFile);
const target = inject('e2eTarget');
const provider = kindProvider();
const onPodman = 'provider' in provider && provider.provider === 'podman';
const NETWORK = 'kga-kind';
const NODE = `${KIND.cluster}-control-plane`;

/** Host-wide sysctls (not per network namespace) a node's systemd, kubelet or kube-proxy could change, and ip_forward. */
const SYSCTLS = [
  'net/ipv4/ip_forward',
  'fs/protected_regular', 'fs/protected_fifos', 'fs/protected_hardlinks', 'fs/protected_symlinks',
  'kernel/pid_max', 'kernel/panic', 'kernel/panic_on_oops', 'kernel/keys/root_maxkeys', 'kernel/keys/root_maxbytes',
  'kernel/kptr_restrict', 'kernel/sysrq', 'kernel/core_uses_pid',
  'vm/overcommit_memory', 'vm/panic_on_oom', 'vm/max_map_count',
  'net/netfilter/nf_conntrack_max',
];

const sysctls = () => Object.fromEntries(SYSCTLS.map((k) => [k, existsSync(`/proc/sys/${k}`) ? readFileSync(`/proc/sys/${k}`, 'utf8').trim() : undefined]));

async function lines(command: string, args: string[]): Promise<string[]> {
  const { stdout } = await execFileP(command, args).catch(() => ({ stdout: '' }));
  return stdout.split('\n').filter(Boolean).sort();
}

/** What a kind cluster on podman puts on the host. */
async function hostTraces() {
  return {
    containers: await lines('podman', ['ps', '-a', '--format', '{{.Names}}']),
    networks: await lines('podman', ['network', 'ls', '--format', '{{.Name}}']),
    links: (await lines('ip', ['-o', 'link', 'show'])).map((l) => l.split(':')[1]!.trim().split('@')[0]!).sort(),
    // The containers' overlay roots and /dev/shm mounts.
    mounts: readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith('/var/lib/containers/storage/') || m.startsWith('/run/containers/storage/') || m === '/lib/modules').sort(),
    libModules: existsSync('/lib/modules'),
    iptables: (await lines('iptables-save', [])).filter((l) => /CNI-|KUBE-|kga-kind|10\.216\./.test(l) && !l.startsWith('#') && !/^:/.test(l)),
    sysctls: sysctls(),
  };
}

describe.skipIf(Boolean(target.skip) || !onPodman)('kind:down after a killed kind:up (podman)', () => {
  let before: Awaited<ReturnType<typeof hostTraces>>;
  const forwardBefore = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();

  beforeAll(async () => {
    if (target.requiredButMissing) throw new Error(`the kind target cannot run here: ${target.skip}, and CI=true requires it`);
    // From no cluster at all (a suite before this one may have left the shared one).
    const down = await runKindScript(['down'], 600_000);
    expect(down.code, down.output.slice(-3000)).toBe(0);
    before = await hostTraces();
  }, 900_000);

  afterAll(async () => {
    // Only when a step below failed before its own down.
    if (existsSync(`/var/lib/kga-kind`) || (await hostTraces()).containers.includes(NODE)) await runKindScript(['down'], 600_000);
    if (readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim() !== forwardBefore) await execFileP('sysctl', ['-qw', `net.ipv4.ip_forward=${forwardBefore}`]);
  }, 600_000);

  it('leaves no container, network, bridge, mount, /lib/modules or sysctl change behind', async () => {
    // kind:up in its own process group, killed (SIGKILL, every process of it) once the node container runs: mid-create.
    const t0 = performance.now();
    const child = spawn('bash', ['scripts/kind.sh', 'up'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    let running = false;
    while (!running && performance.now() - t0 < 1_800_000 && child.exitCode === null) {
      await new Promise((r) => setTimeout(r, 250));
      running = (await lines('podman', ['inspect', '--format', '{{.State.Running}}', NODE])).includes('true');
    }
    expect(running, `the node container never ran:\n${output.slice(-4000)}`).toBe(true);
    process.kill(-child.pid!, 'SIGKILL');
    await exited;
    process.stderr.write(`[e2e] kind:up killed ${((performance.now() - t0) / 1000).toFixed(0)} s after it started, with the node container running\n`);

    const left = await hostTraces();
    expect(left.containers).toContain(NODE);
    expect(left.networks).toContain(NETWORK);
    expect(existsSync('/var/lib/kga-kind'), 'up records what it changed on the host').toBe(true);
    // As podman does on some hosts (a bridge network with a gateway): down must put it back.
    await execFileP('sysctl', ['-qw', `net.ipv4.ip_forward=${forwardBefore === '1' ? '0' : '1'}`]);

    const down = await runKindScript(['down'], 600_000);
    process.stderr.write(`[e2e] npm run kind:down after the killed up: ${(down.ms / 1000).toFixed(0)} s\n`);
    expect(down.code, down.output.slice(-4000)).toBe(0);
    const after = await hostTraces();
    expect(after).toEqual(before);
    expect(after.sysctls['net/ipv4/ip_forward']).toBe(forwardBefore);
    expect(existsSync(KIND.kubeconfigPath)).toBe(false);
    expect(existsSync('/var/lib/kga-kind')).toBe(false);

    const again = await runKindScript(['down'], 300_000);
    expect(again.code, again.output.slice(-3000)).toBe(0);
  }, 2_400_000);
});
