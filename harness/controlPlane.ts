// A real etcd + kube-apiserver on loopback with the CRDs installed, like
// controller-runtime's envtest (no kubelet, no controllers).
import * as fsp from 'node:fs/promises';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';

import * as k8s from '@kubernetes/client-node';

import { BUILD_HINT, ensureControlPlaneBinaries, type ControlPlanePaths } from './binaries.ts';
import { generateCa, generateClientCert, generateServiceAccountKeys, generateServingCert } from './certificates.ts';
import { installCrds, type InstalledCrds } from './crds.ts';
import { kubeRequest } from './kubeApi.ts';
import { buildKubeconfig } from './kubeconfig.ts';
import { freePorts } from './ports.ts';
import { isRunning, killAndWait, pidAlive, spawnLogged, tail, track, untrack, type Owned } from './processes.ts';
import { waitFor } from './wait.ts';

export interface StartControlPlaneOptions {
  /** Install the gateway-api standard, kgateway and agentgateway CRDs (default true). */
  installCrds?: boolean;
  /** Also apply gateway-api's ValidatingAdmissionPolicy file (default true). */
  includeVap?: boolean;
  extraApiServerArgs?: string[];
  /** Per phase (etcd, apiserver readiness, CRDs Established). Default 120 s. */
  startTimeoutMs?: number;
  /** Use this directory instead of a fresh temp dir (it is not removed by stop()). */
  dir?: string;
  /** Processes outlive this one (own process group, no kill on exit). For scripts/cluster.ts. */
  detached?: boolean;
  /**
   * Wait until 2 s after the last CRD became Established (default true): the API
   * server sleeps 2 s in any custom-resource create within that window.
   */
  createGrace?: boolean;
  /** Log phases to stderr (also KGA_CONTROLPLANE_VERBOSE=1). */
  verbose?: boolean;
}

export interface ControlPlane {
  /** Admin kubeconfig (client certificate in group system:masters), data embedded. */
  kubeconfigPath: string;
  /** https://127.0.0.1:PORT */
  server: string;
  kubeConfig: k8s.KubeConfig;
  /** CA of the API server's serving cert (and of the client certs). */
  caPem: string;
  /** Working dir: pki/, etcd data, logs, kubeconfig. */
  dir: string;
  etcdUrl: string;
  pids: { etcd: number | undefined; kubeApiserver: number | undefined };
  logs: { etcd: string; kubeApiserver: string };
  versions: ControlPlanePaths['versions'];
  crds: InstalledCrds;
  timings: { readyMs: number; totalMs: number };
  /** Kills kube-apiserver and etcd, removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

function httpGetOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
  });
}

const TEMP_PREFIX = 'kga-controlplane-';

/** Removes temp dirs left by test processes that were SIGKILLed (their owner pid is gone). */
async function sweepStaleTempDirs(): Promise<void> {
  let names: string[] = [];
  try {
    names = (await fsp.readdir(os.tmpdir())).filter((n) => n.startsWith(TEMP_PREFIX));
  } catch {
    return;
  }
  for (const n of names) {
    const d = path.join(os.tmpdir(), n);
    try {
      const owner = Number((await fsp.readFile(path.join(d, 'owner.pid'), 'utf8')).trim());
      if (owner && !pidAlive(owner)) await fsp.rm(d, { recursive: true, force: true });
    } catch {
      /* no owner file yet, or not ours */
    }
  }
}

/** Starts etcd + kube-apiserver on loopback, installs the CRDs. */
export async function startControlPlane(opts: StartControlPlaneOptions = {}): Promise<ControlPlane> {
  const t0 = Date.now();
  const {
    installCrds: doInstallCrds = true,
    includeVap = true,
    extraApiServerArgs = [],
    startTimeoutMs = 120_000,
    detached = false,
    createGrace = true,
    verbose = !!process.env.KGA_CONTROLPLANE_VERBOSE,
  } = opts;
  const ensured = await ensureControlPlaneBinaries();
  if (!ensured.ok) throw new Error(`control plane unavailable: ${ensured.reason}. Run \`${BUILD_HINT}\`.`);
  const paths = ensured.paths;

  if (!opts.dir) await sweepStaleTempDirs();
  const dir = opts.dir ? path.resolve(opts.dir) : await fsp.mkdtemp(path.join(os.tmpdir(), TEMP_PREFIX));
  await fsp.mkdir(dir, { recursive: true });
  const ownsDir = !opts.dir;
  if (ownsDir) await fsp.writeFile(path.join(dir, 'owner.pid'), String(process.pid));
  const owned: Owned = { procs: [], dirs: ownsDir ? [dir] : [] };
  if (!detached) track(owned);
  const log = (m: string) => verbose && process.stderr.write(`[control-plane] ${m} (+${Date.now() - t0}ms)\n`);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // apiserver first (it would otherwise log etcd errors), then etcd.
    for (const p of [...owned.procs].reverse()) await killAndWait(p);
    if (ownsDir) await fsp.rm(dir, { recursive: true, force: true });
    untrack(owned);
  };

  try {
    const [etcdClientPort, etcdPeerPort, apiPort] = (await freePorts(3)) as [number, number, number];
    const host = '127.0.0.1';

    // --- etcd
    const etcdUrl = `http://${host}:${etcdClientPort}`;
    const etcdLog = path.join(dir, 'etcd.log');
    const etcd = spawnLogged(
      paths.etcd,
      [
        '--name=kga',
        `--data-dir=${path.join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://${host}:${etcdPeerPort}`,
        `--initial-advertise-peer-urls=http://${host}:${etcdPeerPort}`,
        `--initial-cluster=kga=http://${host}:${etcdPeerPort}`,
        '--unsafe-no-fsync',
        '--log-level=warn',
      ],
      etcdLog,
      { detached },
    );
    owned.procs.push(etcd);
    const etcdDead = () => (isRunning(etcd) ? undefined : `etcd exited (${etcd.exitCode ?? etcd.signalCode}):\n${tail(etcdLog)}`);

    // --- certificates and keys (generated while etcd starts)
    const ca = await generateCa('kga-test-cluster-ca');
    const serving = await generateServingCert({ ca, commonName: 'kube-apiserver', dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'] });
    const admin = await generateClientCert(ca, 'kga-admin', 'system:masters');
    const sa = generateServiceAccountKeys();
    const pki = path.join(dir, 'pki');
    await fsp.mkdir(pki, { recursive: true });
    const f = (n: string) => path.join(pki, n);
    await Promise.all([
      fsp.writeFile(f('ca.crt'), ca.certPem),
      fsp.writeFile(f('apiserver.crt'), serving.certPem),
      fsp.writeFile(f('apiserver.key'), serving.keyPem, { mode: 0o600 }),
      fsp.writeFile(f('sa.pub'), sa.publicKey),
      fsp.writeFile(f('sa.key'), sa.privateKey, { mode: 0o600 }),
    ]);

    await waitFor('etcd', () => httpGetOk(`${etcdUrl}/health`), { timeoutMs: 30_000, abort: etcdDead });
    log(`etcd ready at ${etcdUrl}`);

    // --- kube-apiserver
    const server = `https://${host}:${apiPort}`;
    const apiLog = path.join(dir, 'kube-apiserver.log');
    const apiserver = spawnLogged(
      paths.kubeApiserver,
      [
        `--etcd-servers=${etcdUrl}`,
        `--bind-address=${host}`,
        `--advertise-address=${host}`,
        `--secure-port=${apiPort}`,
        `--cert-dir=${pki}`,
        `--tls-cert-file=${f('apiserver.crt')}`,
        `--tls-private-key-file=${f('apiserver.key')}`,
        `--client-ca-file=${f('ca.crt')}`,
        '--authorization-mode=RBAC',
        `--service-account-issuer=${server}`,
        `--service-account-key-file=${f('sa.pub')}`,
        `--service-account-signing-key-file=${f('sa.key')}`,
        '--service-cluster-ip-range=10.0.0.0/24',
        '--allow-privileged=true',
        '--disable-admission-plugins=ServiceAccount',
        ...extraApiServerArgs,
      ],
      apiLog,
      { detached },
    );
    owned.procs.push(apiserver);
    const apiDead = () =>
      etcdDead() ?? (isRunning(apiserver) ? undefined : `kube-apiserver exited (${apiserver.exitCode ?? apiserver.signalCode}):\n${tail(apiLog)}`);

    const kubeconfigPath = path.join(dir, 'kubeconfig');
    await fsp.writeFile(
      kubeconfigPath,
      buildKubeconfig({ server, caPem: ca.certPem, clientCertPem: admin.certPem, clientKeyPem: admin.keyPem }),
      { mode: 0o600 },
    );
    const kubeConfig = new k8s.KubeConfig();
    kubeConfig.loadFromFile(kubeconfigPath);

    await waitFor(
      'kube-apiserver /readyz',
      async () => (await kubeRequest(kubeConfig, 'GET', '/readyz', { timeoutMs: 5000 })).status === 200,
      { timeoutMs: startTimeoutMs, intervalMs: 200, abort: apiDead },
    );
    const readyMs = Date.now() - t0;
    log(`kube-apiserver ready at ${server}`);

    let crdInfo: InstalledCrds = { crds: [], others: [], skipped: [], notes: [] };
    if (doInstallCrds) {
      crdInfo = await installCrds(kubeConfig, paths.crdDirs, { includeVap, timeoutMs: startTimeoutMs, createGrace });
      log(`${crdInfo.crds.length} CRDs established`);
    }
    for (const s of crdInfo.skipped) process.stderr.write(`[control-plane] skipped ${path.basename(s.file)}: ${s.reason}\n`);

    return {
      kubeconfigPath,
      server,
      kubeConfig,
      caPem: ca.certPem,
      dir,
      etcdUrl,
      pids: { etcd: etcd.pid, kubeApiserver: apiserver.pid },
      logs: { etcd: etcdLog, kubeApiserver: apiLog },
      versions: paths.versions,
      crds: crdInfo,
      timings: { readyMs, totalMs: Date.now() - t0 },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
