// The release path, as a user meets it: an OCI registry (the CNCF
// `distribution` registry, built from its Go module by scripts/registry.sh) on
// the host's loopback receives the image (scripts/release/image.sh: `npm run
// image:build`, then podman push) and the chart (scripts/release/chart.sh:
// `helm push`, the chart naming that image by digest); the single node's
// containerd pulls the image from it (through `node.sh registry`: a relay on
// the host's end of the veth and a hosts.toml), and `helm install
// oci://127.0.0.1:PORT/charts/kgateway-admission` installs the chart. No
// archive import, no skopeo: the node starts with no kgateway-admission image.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlPlanePaths, freePorts, installCrds, kubeRequest, REPO_ROOT } from '../../../harness/index.ts';
import { httpListenerPolicy } from '../../support/builders.js';
import { ensureNamespaces, PATHS, pollUntil } from '../support.js';
import { skipRealE2e } from './gate.js';
import { RELEASE, RELEASE_NS, run, webhookPods } from '../scenarios/cluster.js';
import { NODE_DIR, nodeScript, nodeUpWithoutChart, type NodeCluster } from './nodeCluster.js';

const skip = skipRealE2e('the install from a registry on loopback (distribution registry, podman push, helm push, the node pulling)', { netns: true });
const VERSION = /^appVersion:\s*"?([^"\n]+)"?/m.exec(await readFile(join(REPO_ROOT, 'charts/kgateway-admission/Chart.yaml'), 'utf8'))?.[1] ?? '';

/** The node's containerd images (the CRI's namespace), by name. */
async function nodeImages(): Promise<string[]> {
  const res = await run('ctr', ['--address', `${NODE_DIR}/containerd.sock`, '-n', 'k8s.io', 'images', 'ls', '-q'], 30_000);
  if (res.code !== 0) throw new Error(`ctr images ls: ${res.output}`);
  return res.output.trim().split('\n').filter(Boolean);
}

describe.skipIf(skip)('install from a registry on loopback: podman push, helm push, containerd pulls, helm install oci://', () => {
  let work = '';
  let registryAddr = '';
  let registry: ChildProcess | undefined;
  let registryLog = '';
  let cluster: NodeCluster | undefined;
  let imageDigest = '';
  let chartDigest = '';

  beforeAll(async () => {
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
    cluster = await nodeUpWithoutChart();
  }, 2_400_000);

  afterAll(async () => {
    if (cluster) {
      const down = await cluster.down();
      if (down.code !== 0) process.stderr.write(`[e2e] node:down failed:\n${down.output.slice(-2000)}\n`);
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

  it('the node pulls the image from it and `helm install oci://…` installs the chart: pods Ready on the pushed digest, the webhook denying', async () => {
    expect(imageDigest, 'the push above').toMatch(/^sha256:/);
    // Nothing imported: the node has no kgateway-admission image before the install.
    expect((await nodeImages()).filter((i) => i.includes('kgateway-admission'))).toEqual([]);
    const trusted = await nodeScript(['registry', registryAddr], 60_000);
    expect(trusted.code, trusted.output).toBe(0);
    const hosts = await readFile(join(NODE_DIR, 'containerd/certs.d', registryAddr, 'hosts.toml'), 'utf8');
    expect(hosts).toContain('[host."http://10.213.0.1:');

    await installCrds(cluster!.kc, (await controlPlanePaths()).crdDirs);
    const install = await cluster!.helm([
      'install', RELEASE, `oci://${registryAddr}/charts/kgateway-admission`, '--version', VERSION, '--plain-http',
      '--namespace', RELEASE_NS, '--create-namespace', '--wait', '--timeout', '8m',
    ], 600_000);
    expect(install.code, install.output.slice(-4000)).toBe(0);

    const pods = await webhookPods(cluster!.kc);
    expect(pods.length).toBe(2);
    expect(pods.every((p) => p.ready)).toBe(true);
    const listed = await kubeRequest(cluster!.kc, 'GET', `/api/v1/namespaces/${RELEASE_NS}/pods?labelSelector=${encodeURIComponent(`app.kubernetes.io/instance=${RELEASE}`)}`);
    for (const pod of listed.body.items as any[]) {
      expect(pod.spec.containers[0].image).toBe(`${registryAddr}/kgateway-admission@${imageDigest}`);
      expect(pod.status.containerStatuses[0].imageID).toBe(`${registryAddr}/kgateway-admission@${imageDigest}`);
    }
    // Pulled by containerd from the registry (its user agent in the registry's log), not imported.
    expect((await nodeImages()).filter((i) => i.includes('kgateway-admission'))).toContain(`${registryAddr}/kgateway-admission@${imageDigest}`);
    expect(registryLog).toMatch(new RegExp(`"GET /v2/kgateway-admission/manifests/[^"]*" 200 [^\\n]*containerd/`));

    // The webhook it installed answers the API server: an ungranted cross-namespace ref is denied.
    await ensureNamespaces(cluster!.kc, 'kgateway', 'monitoring');
    const { value: denied } = await pollUntil('the validating webhook to deny the ungranted policy', async () => {
      const res = await kubeRequest(cluster!.kc, 'POST', `${PATHS.httpListenerPolicies('kgateway')}?dryRun=All`, { body: httpListenerPolicy({ name: 'registry-e2e' }) });
      return res.status === 403 ? res : undefined;
    }, 60_000, 500);
    expect(denied.text).toContain('no ReferenceGrant allows');
  }, 900_000);
});
