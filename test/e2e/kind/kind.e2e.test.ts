// The chart and the image in a real cluster, for people with Docker: creates
// a kind cluster, installs the Gateway API and kgateway CRDs (the same files
// as the control-plane e2e), builds the image from the Dockerfile, loads it
// into kind, installs the chart (self-managed certificates) and runs the
// control-plane e2e's scenarios against the pods.
//
//   npm run test:kind        (KGA_KIND_E2E=1; see test/e2e/kind/README.md)
//
// Without docker (an engine that answers) or kind, it skips with one line.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendRef, gateway, httpListenerPolicy, listenerPolicy, referenceGrant } from '../../support/builders.js';
import { controlPlanePaths, installCrds, kubeRequest, REPO_ROOT } from '../../../harness/index.ts';
import { CHART_DIR, helmBinary, runHelm } from '../../chart/support.js';
import { create, ensureNamespaces, PATHS, pollUntil } from '../support.js';

const CLUSTER = process.env.KGA_KIND_CLUSTER ?? 'kga-e2e';
const IMAGE_REPOSITORY = 'kgateway-admission';
const IMAGE_TAG = 'kind-e2e';
const RELEASE = 'kga';
const RELEASE_NAMESPACE = 'kgateway-admission';
const DEPLOYMENT = `${RELEASE}-kgateway-admission`;
const OTEL_REF = { group: 'gateway.kgateway.dev', kind: 'GatewayParameters', name: 'agentgateway-otel' };

function works(command: string, args: string[]): boolean {
  const res = spawnSync(command, args, { stdio: 'ignore', timeout: 20_000 });
  return res.status === 0;
}

/** Why the kind e2e cannot or should not run here; undefined when it runs. */
function kindSkipReason(): string | undefined {
  const missing = [
    ...(works('docker', ['info']) ? [] : ['docker (no engine answers `docker info`)']),
    ...(works('kind', ['version']) ? [] : ['kind (not on PATH)']),
  ];
  if (missing.length > 0) return `missing ${missing.join(' and ')}; see test/e2e/kind/README.md`;
  // Go locates the CRDs in its module cache and builds helm, as for the control-plane e2e.
  if (!works('go', ['version']) && !works('/usr/local/go/bin/go', ['version'])) return 'missing Go (for the CRDs and helm); see test/e2e/kind/README.md';
  if (process.env.KGA_KIND_E2E !== '1') return 'docker and kind are here, but it creates a cluster and builds the image: run `npm run test:kind` (KGA_KIND_E2E=1)';
  return undefined;
}

const skip = kindSkipReason();
if (skip) process.stderr.write(`\n!!! SKIPPING kind e2e: ${skip} !!!\n\n`);

/** Runs a command with its output on stderr (these steps take minutes); rejects on a non-zero exit. */
function sh(command: string, args: string[], options: { capture?: boolean; env?: Record<string, string> } = {}): Promise<string> {
  process.stderr.write(`[kind] $ ${command} ${args.join(' ')}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: REPO_ROOT, env: { ...process.env, ...options.env }, stdio: ['ignore', options.capture ? 'pipe' : 'inherit', 'inherit'] });
    let out = '';
    child.stdout?.on('data', (c) => (out += c));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} ${args.join(' ')} exited ${code}`))));
  });
}

describe.skipIf(skip)(`kind cluster ${CLUSTER}: image + chart + the control-plane scenarios`, () => {
  let work: string;
  let kubeconfig: string;
  let kc: KubeConfig;
  let helm: string;
  let createdCluster = false;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'kga-kind-'));
    kubeconfig = join(work, 'kubeconfig');
    const clusters = (await sh('kind', ['get', 'clusters'], { capture: true })).split('\n');
    if (!clusters.includes(CLUSTER)) {
      await sh('kind', ['create', 'cluster', '--name', CLUSTER, '--wait', '180s', ...(process.env.KGA_KIND_NODE_IMAGE ? ['--image', process.env.KGA_KIND_NODE_IMAGE] : [])]);
      createdCluster = true;
    }
    await writeFile(kubeconfig, await sh('kind', ['get', 'kubeconfig', '--name', CLUSTER], { capture: true }), { mode: 0o600 });
    kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);

    // The same CRD files as the control-plane e2e (Gateway API v1.5.1, kgateway v2.2.0).
    const paths = await controlPlanePaths();
    const crds = await installCrds(kc, paths.crdDirs);
    process.stderr.write(`[kind] ${crds.crds.length} CRDs established\n`);

    await sh('docker', ['build', '--tag', `${IMAGE_REPOSITORY}:${IMAGE_TAG}`, '.']);
    await sh('kind', ['load', 'docker-image', `${IMAGE_REPOSITORY}:${IMAGE_TAG}`, '--name', CLUSTER]);

    helm = await helmBinary();
    const install = await runHelm(helm, [
      'upgrade', '--install', RELEASE, CHART_DIR,
      '--namespace', RELEASE_NAMESPACE, '--create-namespace', '--kubeconfig', kubeconfig,
      '--set', `image.repository=${IMAGE_REPOSITORY}`, '--set', `image.tag=${IMAGE_TAG}`, '--set', 'image.pullPolicy=Never',
      // The brief's setup (GatewayParameters), as in the control-plane e2e.
      '--set', 'config.profile=kgateway-v2.1',
      '--wait', '--timeout', '5m',
    ]);
    expect(install.code, install.stderr).toBe(0);
    await ensureNamespaces(kc, 'kgateway', 'monitoring', 'tracing');
    // Ready pods, caBundle set by the server, endpoints in place: the API server calls the webhook.
    const { ms } = await pollUntil('the mutating webhook to answer', async () => {
      const res = await create(kc, PATHS.gateways('kgateway'), gateway({ name: 'probe' }), { dryRun: true });
      return res.status === 201 && res.body.spec.infrastructure?.parametersRef ? true : undefined;
    }, 180_000, 1_000);
    process.stderr.write(`[kind] webhook answering ${Math.round(ms)} ms after helm --wait returned\n`);
  }, 1_800_000);

  afterAll(async () => {
    if (createdCluster && process.env.KGA_KIND_KEEP !== '1') await sh('kind', ['delete', 'cluster', '--name', CLUSTER]).catch(() => undefined);
    if (work) await rm(work, { recursive: true, force: true });
  }, 300_000);

  it.each(['v1', 'v1beta1'])('an agentgateway Gateway created as %s comes back with the parametersRef, with the missing-parameters warning', async (version) => {
    const res = await create(kc, PATHS.gateways('kgateway', version), gateway({ name: `gw-${version}`, version }));
    expect(res.status, res.text).toBe(201);
    expect(res.body.spec.infrastructure).toEqual({ parametersRef: OTEL_REF });
    expect(res.warnings).toEqual(['GatewayParameters kgateway/agentgateway-otel not found: create it, or the proxy starts without OTEL settings']);
  });

  it('leaves a kgateway-class Gateway and an opted-out one unchanged, and Gateways in the release namespace alone', async () => {
    const plain = await create(kc, PATHS.gateways('kgateway'), gateway({ name: 'envoy', className: 'kgateway' }));
    expect(plain.body.spec.infrastructure).toBeUndefined();
    const optedOut = await create(kc, PATHS.gateways('kgateway'), gateway({ name: 'opted-out', annotations: { 'kgateway-admission.dev/skip': 'true' } }));
    expect(optedOut.body.spec.infrastructure).toBeUndefined();
    const excluded = await create(kc, PATHS.gateways(RELEASE_NAMESPACE), gateway({ name: 'excluded', namespace: RELEASE_NAMESPACE }), { dryRun: true });
    expect(excluded.status, excluded.text).toBe(201);
    expect(excluded.body.spec.infrastructure).toBeUndefined();
  });

  it('rejects an HTTPListenerPolicy before its ReferenceGrant exists (with the grant to create) and accepts it after', async () => {
    const policy = httpListenerPolicy({ name: 'brief-logging' });
    const before = await create(kc, PATHS.httpListenerPolicies('kgateway'), policy);
    expect(before.status).toBe(403);
    expect(before.body.message).toContain('admission webhook "policies.validate.kgateway-admission.kgateway.dev" denied the request');
    expect(before.body.message).toContain('Create this ReferenceGrant in namespace monitoring');
    expect((await create(kc, PATHS.referenceGrants('monitoring'), referenceGrant({ name: 'brief-grant' }))).status).toBe(201);
    // The denial re-reads grants live, so the policy right after its grant is admitted.
    const accepted = await create(kc, PATHS.httpListenerPolicies('kgateway'), policy);
    expect(accepted.status, accepted.text).toBe(201);
    const deleted = await pollUntil('the grant guard to know the policy', async () => {
      const res = await kubeRequest(kc, 'DELETE', `${PATHS.referenceGrants('monitoring')}/brief-grant?dryRun=All`);
      return res.warnings.length > 0 ? res : undefined;
    });
    expect(deleted.value.warnings).toEqual(['deleting ReferenceGrant monitoring/brief-grant breaks HTTPListenerPolicy kgateway/brief-logging']);
  });

  it('checks ListenerPolicy per-port refs, and a server-side dry run gets the same answer and stores nothing', async () => {
    const denied = await create(kc, PATHS.listenerPolicies('kgateway'), listenerPolicy({ name: 'per-port', perPortRefs: [backendRef({ name: 'per-port-sink' })] }));
    expect(denied.status).toBe(403);
    expect(denied.body.message).toContain('spec.perPort[0].listener.httpSettings.accessLog[0].openTelemetry.grpcService.backendRef: Service monitoring/per-port-sink');
    const dry = await create(kc, PATHS.httpListenerPolicies('kgateway'), httpListenerPolicy({ name: 'dry', otelAccessLogRefs: [backendRef({ namespace: 'nowhere' })] }), { dryRun: true });
    expect(dry.status).toBe(403);
    expect((await kubeRequest(kc, 'GET', `${PATHS.httpListenerPolicies('kgateway')}/dry`)).status).toBe(404);
  });

  it('keeps answering while a webhook pod is deleted (2 replicas, preStop sleep, graceful shutdown)', async () => {
    const pods = await kubeRequest(kc, 'GET', `/api/v1/namespaces/${RELEASE_NAMESPACE}/pods?labelSelector=app.kubernetes.io%2Finstance%3D${RELEASE}`);
    expect(pods.body.items.length).toBeGreaterThanOrEqual(2);
    const victim = pods.body.items[0].metadata.name;
    expect((await kubeRequest(kc, 'DELETE', `/api/v1/namespaces/${RELEASE_NAMESPACE}/pods/${victim}`)).status).toBe(200);
    const failures: string[] = [];
    for (let i = 0; i < 40; i++) {
      const res = await create(kc, PATHS.gateways('kgateway'), gateway({ name: `during-${i}` }), { dryRun: true });
      if (res.status !== 201 || !res.body.spec.infrastructure?.parametersRef) failures.push(`${res.status} ${res.text.slice(0, 200)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(failures).toEqual([]);
  }, 120_000);

  it('failurePolicy Fail blocks writes while no pod answers; admission resumes when they are back', async () => {
    const scale = (replicas: number) =>
      kubeRequest(kc, 'PATCH', `/apis/apps/v1/namespaces/${RELEASE_NAMESPACE}/deployments/${DEPLOYMENT}/scale`, { body: { spec: { replicas } }, contentType: 'application/merge-patch+json' });
    expect((await scale(0)).status).toBe(200);
    try {
      const blocked = await pollUntil('writes to be blocked', async () => {
        const res = await create(kc, PATHS.gateways('kgateway'), gateway({ name: 'while-down' }), { dryRun: true });
        return res.status >= 500 ? res : undefined;
      }, 120_000, 1_000);
      expect(blocked.value.body.message).toMatch(/failed calling webhook "gateways\.mutate\.kgateway-admission\.kgateway\.dev"/);
    } finally {
      expect((await scale(2)).status).toBe(200);
    }
    await pollUntil('admission to resume', async () => {
      const res = await create(kc, PATHS.gateways('kgateway'), gateway({ name: 'after' }), { dryRun: true });
      return res.status === 201 && res.body.spec.infrastructure?.parametersRef ? true : undefined;
    }, 180_000, 1_000);
  }, 600_000);
});
