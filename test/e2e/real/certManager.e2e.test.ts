// certificates.mode=certManager with the real cert-manager on a real node:
// its controller and CA injector, built from the published cert-manager Go
// module (scripts/cert-manager.sh), run as processes against the node's API
// server. The chart's self-signed root, CA and serving Certificate are
// issued, the injector puts the CA into every webhook's caBundle, the pods
// serve cert-manager's certificate, and the API server calls the webhooks.
// Figures: docs/real-node.md.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gateway, httpListenerPolicy } from '../../support/builders.js';
import { kubeRequest, REPO_ROOT } from '../../../harness/index.ts';
import { create, ensureNamespaces, PATHS, pollUntil } from '../support.js';
import { skipRealE2e } from './gate.js';
import { KUBECONFIG_PATH, nodeUpWithChart, RELEASE, RELEASE_NS, run, waitRolledOut, webhookPods, type NodeCluster } from './nodeCluster.js';
import { mutatingWebhookAnswered } from '../../support/gatewayMutation.js';

const skip = skipRealE2e('certificates.mode=certManager with cert-manager on the single-node cluster (npm run node:up)', { netns: true });
const CM = '/apis/cert-manager.io/v1';
const SERVING_SECRET = `${RELEASE}-serving-tls`;

async function certManagerPaths(): Promise<Record<string, string>> {
  const build = await run('bash', ['scripts/cert-manager.sh', 'build'], 1_800_000);
  if (build.code !== 0) throw new Error(`scripts/cert-manager.sh build failed:\n${build.output.slice(-4000)}`);
  const paths = await run('bash', ['scripts/cert-manager.sh', 'paths'], 120_000);
  if (paths.code !== 0) throw new Error(`scripts/cert-manager.sh paths failed:\n${paths.output}`);
  return Object.fromEntries(paths.output.trim().split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

function startProcess(bin: string, args: string[], logFile: string): ChildProcess {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = createWriteStream(logFile);
  child.stdout!.pipe(out);
  child.stderr!.pipe(out);
  return child;
}

function ready(obj: any): boolean {
  return (obj?.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
}

describe.skipIf(skip)('certificates.mode=certManager with the real cert-manager on a real node', () => {
  let cluster: NodeCluster;
  const processes: ChildProcess[] = [];
  const logDir = '/tmp';
  let installMs = 0;

  beforeAll(async () => {
    const paths = await certManagerPaths();
    cluster = await nodeUpWithChart();
    // The chart as node:up installed it (selfManaged) goes; cert-manager comes.
    const uninstall = await cluster.helm(['uninstall', RELEASE, '--namespace', RELEASE_NS, '--wait']);
    if (uninstall.code !== 0) throw new Error(uninstall.output);
    const crds = await cluster.kubectl(['apply', '--server-side', '-f', paths.crds!]);
    if (crds.code !== 0) throw new Error(crds.output);
    const established = await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=120s', 'crd/certificates.cert-manager.io', 'crd/issuers.cert-manager.io', 'crd/certificaterequests.cert-manager.io']);
    if (established.code !== 0) throw new Error(established.output);
    await ensureNamespaces(cluster.kc, 'cert-manager', 'cm-webhook-check');
    processes.push(startProcess(paths.controller!, ['--kubeconfig', KUBECONFIG_PATH], join(logDir, 'kga-cert-manager-controller.log')));
    processes.push(startProcess(paths.cainjector!, ['--kubeconfig', KUBECONFIG_PATH], join(logDir, 'kga-cert-manager-cainjector.log')));
    // Both must still run once they have read their kubeconfig and started.
    await new Promise((r) => setTimeout(r, 3_000));
    for (const [i, name] of ['controller', 'cainjector'].entries()) {
      if (processes[i]!.exitCode !== null) {
        throw new Error(`cert-manager ${name} exited (${processes[i]!.exitCode}):\n${(await readFile(join(logDir, `kga-cert-manager-${name}.log`), 'utf8')).slice(-3000)}`);
      }
    }
    const chart = await readFile(join(REPO_ROOT, 'charts/kgateway-admission/Chart.yaml'), 'utf8');
    const appVersion = /^appVersion:\s*"?([^"\n]+)"?/m.exec(chart)?.[1];
    const install = await cluster.helm([
      'install', RELEASE, join(REPO_ROOT, 'charts/kgateway-admission'), '--namespace', RELEASE_NS,
      '--set', 'certificates.mode=certManager',
      '--set', 'image.repository=kgateway-admission', '--set', `image.tag=${appVersion}`, '--set', 'image.pullPolicy=Never',
      '--wait', '--timeout', '5m',
    ]);
    installMs = install.ms;
    if (install.code !== 0) {
      const logs = await Promise.all(['controller', 'cainjector'].map(async (n) => `---- ${n}\n${(await readFile(join(logDir, `kga-cert-manager-${n}.log`), 'utf8')).slice(-3000)}`));
      throw new Error(`helm install (certManager) failed:\n${install.output}\n${logs.join('\n')}`);
    }
    process.stderr.write(`[e2e] helm install --set certificates.mode=certManager --wait: ${(installMs / 1000).toFixed(1)} s (certificates issued, pods Ready)\n`);
  }, 2_400_000);

  afterAll(async () => {
    for (const p of processes) p.kill('SIGTERM');
    if (cluster) {
      const down = await cluster.down();
      if (down.code !== 0) process.stderr.write(`[e2e] node:down failed:\n${down.output}\n`);
    }
  }, 300_000);

  it("cert-manager issues the chart's CA and serving Certificate", async () => {
    for (const name of [`${RELEASE}-ca`, `${RELEASE}-serving`]) {
      const cert = await kubeRequest(cluster.kc, 'GET', `${CM}/namespaces/${RELEASE_NS}/certificates/${name}`);
      expect(cert.status, cert.text).toBe(200);
      expect(ready(cert.body), JSON.stringify(cert.body.status)).toBe(true);
    }
    for (const name of [`${RELEASE}-selfsigned`, `${RELEASE}-ca`]) {
      const issuer = await kubeRequest(cluster.kc, 'GET', `${CM}/namespaces/${RELEASE_NS}/issuers/${name}`);
      expect(ready(issuer.body), JSON.stringify(issuer.body.status)).toBe(true);
    }
    const secret = await kubeRequest(cluster.kc, 'GET', `/api/v1/namespaces/${RELEASE_NS}/secrets/${SERVING_SECRET}`);
    expect(secret.status).toBe(200);
    const leaf = new X509Certificate(Buffer.from(secret.body.data['tls.crt'], 'base64'));
    expect(leaf.subjectAltName).toContain(`DNS:${RELEASE}.${RELEASE_NS}.svc`);
    const ca = new X509Certificate(Buffer.from(secret.body.data['ca.crt'], 'base64'));
    expect(leaf.verify(ca.publicKey)).toBe(true);
  });

  it("the CA injector puts cert-manager's CA into every webhook's caBundle (the chart renders none)", async () => {
    const secret = await kubeRequest(cluster.kc, 'GET', `/api/v1/namespaces/${RELEASE_NS}/secrets/${SERVING_SECRET}`);
    const caPem = Buffer.from(secret.body.data['ca.crt'], 'base64').toString('utf8');
    const { ms } = await pollUntil('caBundle injected into every webhook', async () => {
      for (const kind of ['mutatingwebhookconfigurations', 'validatingwebhookconfigurations']) {
        const res = await kubeRequest(cluster.kc, 'GET', `/apis/admissionregistration.k8s.io/v1/${kind}/${RELEASE}`);
        for (const w of res.body.webhooks as { clientConfig: { caBundle?: string } }[]) {
          if (Buffer.from(w.clientConfig.caBundle ?? '', 'base64').toString('utf8') !== caPem) return undefined;
        }
      }
      return true;
    }, 60_000, 250);
    process.stderr.write(`[e2e] caBundle injected (${ms.toFixed(0)} ms after helm --wait returned)\n`);
    const manifest = await cluster.helm(['get', 'manifest', RELEASE, '--namespace', RELEASE_NS]);
    expect(manifest.output).not.toMatch(/caBundle:\s*\S+/);
    expect(manifest.output).toContain(`cert-manager.io/inject-ca-from: ${RELEASE_NS}/${RELEASE}-serving`);
  });

  it("the pods serve cert-manager's certificate and the API server calls the webhooks", async () => {
    await waitRolledOut(cluster.kc);
    const secret = await kubeRequest(cluster.kc, 'GET', `/api/v1/namespaces/${RELEASE_NS}/secrets/${SERVING_SECRET}`);
    const fingerprint = new X509Certificate(Buffer.from(secret.body.data['tls.crt'], 'base64')).fingerprint256;
    const script = `const s = require('node:tls').connect({ host: process.argv[1], port: 8443, rejectUnauthorized: false }, () => { console.log(s.getPeerCertificate().fingerprint256); s.end(); });
s.on('error', (e) => { console.error(e.message); process.exit(1); });`;
    for (const pod of await webhookPods(cluster.kc)) {
      const served = await cluster.inNode(process.execPath, ['-e', script, pod.ip!]);
      expect(served.output.trim(), pod.name).toBe(fingerprint);
    }
    const gw = await pollUntil('a Gateway admitted and mutated through the webhook', async () => {
      const res = await create(cluster.kc, PATHS.gateways('cm-webhook-check'), gateway({ name: 'cm', namespace: 'cm-webhook-check' }));
      return res.status === 201 ? res : undefined;
    }, 60_000, 500);
    expect(mutatingWebhookAnswered(gw.value), gw.value.text).toBe(true);
    const denied = await create(cluster.kc, PATHS.httpListenerPolicies('cm-webhook-check'), httpListenerPolicy({ name: 'cm', namespace: 'cm-webhook-check' }));
    expect(denied.status, denied.text).toBe(403);
    expect(denied.body.message).toContain('denied the request');
  });
});
