// The release path, as a user meets it: an OCI registry (the CNCF
// `distribution` registry, built from its Go module by scripts/registry.sh) on
// the host's loopback receives the image (scripts/release/image.sh: `npm run
// image:build`, then podman push) and the chart (scripts/release/chart.sh:
// `helm push`, the chart naming that image by digest); the kind node's
// containerd pulls the image from it (through `kind.sh registry`: a hosts.toml
// in the node and a relay on its network's gateway, the only address of the
// host the node reaches), and `helm install
// oci://127.0.0.1:PORT/charts/kgateway-admission` on the host installs the
// chart. No archive import, no skopeo: the node holds no kgateway-admission
// image before the install (`kind.sh up --no-image`, and whatever an earlier
// suite loaded is removed from its containerd). Part of project e2e-kind.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { controlPlanePaths, freePorts, installCrds, kubeRequest, REPO_ROOT } from '../../../harness/index.ts';
import { httpListenerPolicy } from '../../support/builders.js';
import { resetCluster } from '../../support/chartTarget.js';
import { kindEngine } from '../../support/clusterNode.js';
import { chartAppVersion, ensureKindWithoutImage, KIND, runKindScript } from '../../support/kindTarget.js';
import { helmBinary } from '../../chart/support.js';
import { ensureNamespaces, PATHS, pollUntil } from '../support.js';
import { RELEASE, RELEASE_NS, run, webhookPods } from '../scenarios/cluster.js';

const execFileP = promisify(execFile);
const target = inject('e2eTarget');
const VERSION = chartAppVersion();

/** The kind node's containerd images (the CRI's namespace), by name. */
async function nodeImages(): Promise<string[]> {
  const { stdout } = await execFileP(kindEngine(), ['exec', KIND.nodeContainer, 'ctr', '-n', 'k8s.io', 'images', 'ls', '-q'], { timeout: 60_000 });
  return stdout.trim().split('\n').filter(Boolean);
}

const productImages = async () => (await nodeImages()).filter((i) => i.includes('kgateway-admission'));

/** Removes every kgateway-admission image from the node's containerd. */
async function removeProductImages(): Promise<void> {
  const images = await productImages();
  if (images.length > 0) await execFileP(kindEngine(), ['exec', KIND.nodeContainer, 'ctr', '-n', 'k8s.io', 'images', 'rm', ...images], { timeout: 60_000 });
}

// Under CI=true, a machine that cannot run kind fails here (beforeAll), never skips quietly.
describe.skipIf(Boolean(target.skip) && !target.requiredButMissing)('install from a registry on loopback: podman push, helm push, the kind node\'s containerd pulls, helm install oci://', () => {
  let work = '';
  let registryAddr = '';
  let registry: ChildProcess | undefined;
  let registryLog = '';
  let relay: ChildProcess | undefined;
  let relayLog = '';
  let kc: KubeConfig;
  let kubeEnv: NodeJS.ProcessEnv = {};
  let helmPath = '';
  let imageDigest = '';
  let chartDigest = '';
  const helm = (args: string[], timeoutMs = 600_000) => run(helmPath, args, timeoutMs, kubeEnv);

  beforeAll(async () => {
    if (target.requiredButMissing) throw new Error(`the kind target cannot run here: ${target.skip}, and CI=true requires it`);
    const built = await run('bash', ['scripts/registry.sh', 'build'], 1_800_000);
    if (built.code !== 0) throw new Error(`bash scripts/registry.sh build failed:\n${built.output.slice(-4000)}`);
    work = await mkdtemp(join(tmpdir(), 'kga-registry-e2e-'));
    const [port] = await freePorts(1);
    registryAddr = `127.0.0.1:${port}`;
    registry = spawn('bash', ['scripts/registry.sh', 'serve', registryAddr, join(work, 'registry')], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    registry.stdout!.on('data', (c) => (registryLog += c));
    registry.stderr!.on('data', (c) => (registryLog += c));
    await pollUntil('the registry to answer /v2/', async () => {
      try {
        return (await fetch(`http://${registryAddr}/v2/`)).status === 200 ? true : undefined;
      } catch {
        return undefined;
      }
    }, 30_000, 200);

    const { kubeconfigPath } = await ensureKindWithoutImage();
    kc = new KubeConfig();
    kc.loadFromFile(kubeconfigPath);
    kubeEnv = { ...process.env, KUBECONFIG: kubeconfigPath };
    helmPath = await helmBinary();
    // A reused cluster: the release, the namespaces and the image an earlier suite left go first.
    const uninstall = await helm(['uninstall', RELEASE, '--namespace', RELEASE_NS, '--ignore-not-found', '--wait', '--timeout', '5m']);
    if (uninstall.code !== 0) throw new Error(`helm uninstall: ${uninstall.output}`);
    await resetCluster(kc, { kubeconfigPath, release: RELEASE, namespace: RELEASE_NS, baseValues: {} }, [], { keepReleaseNamespace: false });
    await removeProductImages();
  }, 3_600_000);

  afterAll(async () => {
    // The next suite of the run installs the chart with the loaded image again
    // (kind.sh up --install). The pulled image goes too: its config (the same
    // build) is the loaded image's, and the node's CRI then did not see the
    // loaded name (ErrImageNeverPull on a later `kind load image-archive`).
    // Not enough: a later `kind load image-archive` of the same build was still
    // not seen by the CRI (ErrImageNeverPull). So the cluster goes, as after
    // lifecycle.e2e.test.ts, and the next suite of the run makes a new one.
    if (helmPath) {
      await helm(['uninstall', RELEASE, '--namespace', RELEASE_NS, '--ignore-not-found', '--wait', '--timeout', '5m']);
      await removeProductImages().catch((e) => process.stderr.write(`[e2e] removing the pulled image from the kind node: ${(e as Error).message}\n`));
      if (process.env.KGA_KIND_KEEP !== '1') {
        const down = await runKindScript(['down'], 600_000);
        process.stderr.write(`[e2e] kind down after the registry install: exit ${down.code}\n`);
        await rm(KIND.createdMarker, { force: true });
      }
    }
    if (relay && relay.exitCode === null) {
      relay.kill('SIGTERM');
      await once(relay, 'close');
    }
    registry?.kill('SIGTERM');
    // The tag image.sh added in the engine's store (docker where one answers, else podman).
    if (registryAddr) {
      const tag = `${registryAddr}/kgateway-admission:${VERSION}`;
      if ((await run('docker', ['rmi', tag], 60_000)).code !== 0) await run('podman', ['rmi', tag], 60_000);
    }
    if (work) await rm(work, { recursive: true, force: true });
  }, 600_000);

  it('scripts/release/image.sh builds the image (npm run image:build) and pushes it with podman; chart.sh pushes the chart with helm push', async () => {
    const env = { ...process.env, RELEASE_DIR: join(work, 'release') };
    const image = await run('bash', ['scripts/release/image.sh', registryAddr, VERSION], 1_800_000, env);
    expect(image.code, image.output.slice(-4000)).toBe(0);
    imageDigest = /^digest: (sha256:[0-9a-f]{64})$/m.exec(image.output)?.[1] ?? '';
    expect(image.output).toContain(`image: ${registryAddr}/kgateway-admission:${VERSION}`);
    const chart = await run('bash', ['scripts/release/chart.sh', registryAddr, VERSION], 300_000, env);
    expect(chart.code, chart.output.slice(-4000)).toBe(0);
    chartDigest = /^digest: (sha256:[0-9a-f]{64})$/m.exec(chart.output)?.[1] ?? '';
    expect(chart.output).toContain(`chart: oci://${registryAddr}/charts/kgateway-admission`);

    // The registry serves both under the one version, with the digests the pushes reported.
    const manifest = async (repository: string, accept: string) => {
      const res = await fetch(`http://${registryAddr}/v2/${repository}/manifests/${VERSION}`, { headers: { accept } });
      return { status: res.status, digest: res.headers.get('docker-content-digest'), body: (await res.json()) as any };
    };
    const imageManifest = await manifest('kgateway-admission', 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json');
    expect(imageManifest).toMatchObject({ status: 200, digest: imageDigest });
    const chartManifest = await manifest('charts/kgateway-admission', 'application/vnd.oci.image.manifest.v1+json');
    expect(chartManifest).toMatchObject({ status: 200, digest: chartDigest });
    expect(chartManifest.body.config.mediaType).toBe('application/vnd.cncf.helm.config.v1+json');
  }, 1_800_000);

  it('the kind node pulls the image from it and `helm install oci://…` installs the chart: pods Ready on the pushed digest, the webhook denying', async () => {
    expect(imageDigest, 'the push above').toMatch(/^sha256:/);
    // Nothing imported or loaded: the node has no kgateway-admission image before the install.
    expect(await productImages()).toEqual([]);

    relay = spawn('bash', ['scripts/kind.sh', 'registry', registryAddr], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    relay.stdout!.on('data', (c) => (relayLog += c));
    relay.stderr!.on('data', (c) => (relayLog += c));
    await pollUntil('kind.sh registry to start its relay', async () => {
      if (relay!.exitCode !== null) throw new Error(`kind.sh registry exited ${relay!.exitCode}:\n${relayLog}`);
      return /^HOSTS_TOML=/m.test(relayLog) ? true : undefined;
    }, 120_000, 200);
    const { stdout: hosts } = await execFileP(kindEngine(), ['exec', KIND.nodeContainer, 'cat', `/etc/containerd/certs.d/${registryAddr}/hosts.toml`]);
    const relayAddr = /^RELAY=(.+)$/m.exec(relayLog)?.[1];
    expect(hosts).toContain(`[host."http://${relayAddr}"]`);

    await installCrds(kc, (await controlPlanePaths()).crdDirs);
    await ensureNamespaces(kc, 'monitoring');
    // On the host, against the host's loopback: the chart from the registry, naming the image by digest.
    const install = await helm([
      'install', RELEASE, `oci://${registryAddr}/charts/kgateway-admission`, '--version', VERSION, '--plain-http',
      '--namespace', RELEASE_NS, '--create-namespace', '--wait', '--timeout', '8m',
    ], 600_000);
    expect(install.code, install.output.slice(-4000)).toBe(0);

    const pods = await webhookPods(kc);
    expect(pods.length).toBe(2);
    expect(pods.every((p) => p.ready)).toBe(true);
    const listed = await kubeRequest(kc, 'GET', `/api/v1/namespaces/${RELEASE_NS}/pods?labelSelector=${encodeURIComponent(`app.kubernetes.io/instance=${RELEASE}`)}`);
    for (const pod of listed.body.items as any[]) {
      expect(pod.spec.containers[0].image).toBe(`${registryAddr}/kgateway-admission@${imageDigest}`);
      expect(pod.status.containerStatuses[0].imageID).toBe(`${registryAddr}/kgateway-admission@${imageDigest}`);
    }
    // Pulled by containerd from the registry (its user agent in the registry's log), not loaded.
    expect(await productImages()).toContain(`${registryAddr}/kgateway-admission@${imageDigest}`);
    expect(registryLog).toMatch(new RegExp(`"GET /v2/kgateway-admission/manifests/[^"]*" 200 [^\\n]*containerd/`));

    // The webhook it installed answers the API server: an ungranted cross-namespace ref is denied.
    await ensureNamespaces(kc, 'kgateway');
    const { value: denied } = await pollUntil('the validating webhook to deny the ungranted policy', async () => {
      const res = await kubeRequest(kc, 'POST', `${PATHS.httpListenerPolicies('kgateway')}?dryRun=All`, { body: httpListenerPolicy({ name: 'registry-e2e' }) });
      return res.status === 403 ? res : undefined;
    }, 60_000, 500);
    expect(denied.text).toContain('no ReferenceGrant allows');
  }, 900_000);
});
