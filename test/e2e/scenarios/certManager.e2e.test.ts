// certificates.mode=certManager with the real cert-manager on a real node
// (kind's or the bare one): its controller and CA injector, built from the
// published cert-manager Go module (scripts/cert-manager.sh), run as host
// processes against the cluster's API server (its kubeconfig). The chart's
// self-signed root, CA and serving Certificate are issued, the injector puts
// the CA into every webhook's caBundle, the pods serve cert-manager's
// certificate, and the API server calls the webhooks; the CA is rotated and
// the serving certificate reissued from it with no call failing.
// Figures: docs/real-node.md.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gateway, httpListenerPolicy } from '../../support/builders.js';
import { kubeRequest } from '../../../harness/index.ts';
import { CHART_DIR, valuesArgs } from '../../chart/support.js';
import { create, ensureNamespaces, PATHS, pollUntil } from '../support.js';
import { RELEASE, RELEASE_NS, run, scenarioCluster, scenarioTarget, waitRolledOut, webhookPods, type ScenarioCluster } from './cluster.js';
import { mutatingWebhookAnswered } from '../../support/gatewayMutation.js';

const target = scenarioTarget('certificates.mode=certManager with cert-manager');
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

describe.skipIf(target.skip)('certificates.mode=certManager with the real cert-manager on a real node', () => {
  let cluster: ScenarioCluster;
  const processes: ChildProcess[] = [];
  const logDir = '/tmp';
  let installMs = 0;

  beforeAll(async () => {
    const paths = await certManagerPaths();
    cluster = await scenarioCluster(target.name);
    // The chart as installed (selfManaged) goes; cert-manager comes.
    const uninstall = await cluster.helm(['uninstall', RELEASE, '--namespace', RELEASE_NS, '--wait']);
    if (uninstall.code !== 0) throw new Error(uninstall.output);
    const crds = await cluster.kubectl(['apply', '--server-side', '-f', paths.crds!]);
    if (crds.code !== 0) throw new Error(crds.output);
    const established = await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=120s', 'crd/certificates.cert-manager.io', 'crd/issuers.cert-manager.io', 'crd/certificaterequests.cert-manager.io']);
    if (established.code !== 0) throw new Error(established.output);
    await ensureNamespaces(cluster.kc, 'cert-manager', 'cm-webhook-check');
    processes.push(startProcess(paths.controller!, ['--kubeconfig', cluster.kubeconfigPath], join(logDir, 'kga-cert-manager-controller.log')));
    processes.push(startProcess(paths.cainjector!, ['--kubeconfig', cluster.kubeconfigPath], join(logDir, 'kga-cert-manager-cainjector.log')));
    // Both must still run once they have read their kubeconfig and started.
    await new Promise((r) => setTimeout(r, 3_000));
    for (const [i, name] of ['controller', 'cainjector'].entries()) {
      if (processes[i]!.exitCode !== null) {
        throw new Error(`cert-manager ${name} exited (${processes[i]!.exitCode}):\n${(await readFile(join(logDir, `kga-cert-manager-${name}.log`), 'utf8')).slice(-3000)}`);
      }
    }
    const install = await cluster.helm([
      'install', RELEASE, CHART_DIR, '--namespace', RELEASE_NS,
      ...(await valuesArgs(cluster.baseValues)), '--set', 'certificates.mode=certManager',
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
    expect(mutatingWebhookAnswered(gw.value), `warnings ${JSON.stringify(gw.value.warnings)}: ${gw.value.text}`).toBe(true);
    const denied = await create(cluster.kc, PATHS.httpListenerPolicies('cm-webhook-check'), httpListenerPolicy({ name: 'cm', namespace: 'cm-webhook-check' }));
    expect(denied.status, denied.text).toBe(403);
    expect(denied.body.message).toContain('denied the request');
  });

  it("the chart's CA is rotated (new key) and the serving certificate reissued from it without one failed call: the injector keeps the old CA beside the new one", async () => {
    const certPath = (name: string) => `${CM}/namespaces/${RELEASE_NS}/certificates/${name}`;
    const secretPem = async (name: string, key: string) => Buffer.from((await kubeRequest(cluster.kc, 'GET', `/api/v1/namespaces/${RELEASE_NS}/secrets/${name}`)).body.data[key], 'base64').toString('utf8');
    const bundles = async () => {
      const all: string[][] = [];
      for (const kind of ['mutatingwebhookconfigurations', 'validatingwebhookconfigurations']) {
        const res = await kubeRequest(cluster.kc, 'GET', `/apis/admissionregistration.k8s.io/v1/${kind}/${RELEASE}`);
        for (const w of res.body.webhooks as { clientConfig: { caBundle?: string } }[]) {
          all.push((Buffer.from(w.clientConfig.caBundle ?? '', 'base64').toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((pem) => new X509Certificate(pem).fingerprint256));
        }
      }
      return all;
    };
    // What `cmctl renew` does: the Issuing condition, set on the status.
    const renew = async (name: string) => {
      const cert = (await kubeRequest(cluster.kc, 'GET', certPath(name))).body;
      const conditions = [...(cert.status?.conditions ?? []).filter((c: { type: string }) => c.type !== 'Issuing'), { type: 'Issuing', status: 'True', reason: 'ManuallyTriggered', message: 'rotation test' }];
      const res = await kubeRequest(cluster.kc, 'PATCH', `${certPath(name)}/status`, { body: { status: { conditions } }, contentType: 'application/merge-patch+json' });
      expect(res.status, res.text).toBe(200);
    };
    const oldCa = new X509Certificate(await secretPem(`${RELEASE}-ca`, 'tls.crt'));
    const oldLeaf = new X509Certificate(await secretPem(SERVING_SECRET, 'tls.crt'));

    // Writes through the API server all along: each must be answered by the webhook (a denial), never fail a call.
    let stop = false;
    const failures: string[] = [];
    let calls = 0;
    const writes = (async () => {
      while (!stop) {
        const res = await create(cluster.kc, PATHS.httpListenerPolicies('cm-webhook-check'), httpListenerPolicy({ name: `rotation-${calls}`, namespace: 'cm-webhook-check' }), { dryRun: true });
        calls++;
        if (res.status !== 403 || !String(res.body?.message).includes('denied the request')) failures.push(`${res.status} ${String(res.body?.message ?? res.text).slice(0, 200)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    try {
      await renew(`${RELEASE}-ca`);
      const { value: newCa } = await pollUntil('the renewed CA', async () => {
        const ca = new X509Certificate(await secretPem(`${RELEASE}-ca`, 'tls.crt'));
        return ca.fingerprint256 !== oldCa.fingerprint256 ? ca : undefined;
      }, 120_000, 500);
      // rotationPolicy: Always: a new key, not the old one re-signed.
      expect(newCa.publicKey.export({ format: 'der', type: 'spki' }).equals(oldCa.publicKey.export({ format: 'der', type: 'spki' }))).toBe(false);
      // cert-manager does not reissue the serving certificate for a new CA: caBundle keeps the old CA until it is.
      expect((await bundles()).every((b) => b.length === 1 && b[0] === oldCa.fingerprint256)).toBe(true);

      await renew(`${RELEASE}-serving`);
      const { value: newLeaf } = await pollUntil('the serving certificate signed by the new CA', async () => {
        const leaf = new X509Certificate(await secretPem(SERVING_SECRET, 'tls.crt'));
        return leaf.fingerprint256 !== oldLeaf.fingerprint256 ? leaf : undefined;
      }, 120_000, 500);
      expect(newLeaf.verify(newCa.publicKey)).toBe(true);
      // The injector (CAInjectorMerging) adds the new CA and keeps the old one, which the pods may still serve under.
      const { value: merged } = await pollUntil('both CAs in every caBundle', async () => {
        const all = await bundles();
        return all.every((b) => b.includes(oldCa.fingerprint256) && b.includes(newCa.fingerprint256)) ? all : undefined;
      }, 60_000, 250);
      expect(merged.every((b) => b.length === 2)).toBe(true);
      // Until every pod serves the new certificate (the kubelet's Secret update), and a little after.
      const script = `const s = require('node:tls').connect({ host: process.argv[1], port: 8443, rejectUnauthorized: false }, () => { console.log(s.getPeerCertificate().fingerprint256); s.end(); });
s.on('error', (e) => { console.error(e.message); process.exit(1); });`;
      const { ms } = await pollUntil('every pod serving the new certificate', async () => {
        for (const pod of await webhookPods(cluster.kc)) {
          if ((await cluster.inNode(process.execPath, ['-e', script, pod.ip!])).output.trim() !== newLeaf.fingerprint256) return undefined;
        }
        return true;
      }, 300_000, 1_000);
      process.stderr.write(`[e2e] certManager CA rotation: pods served the new CA's certificate ${(ms / 1000).toFixed(1)} s after it was issued\n`);
      await new Promise((r) => setTimeout(r, 3_000));
    } finally {
      stop = true;
      await writes;
    }
    process.stderr.write(`[e2e] certManager CA rotation: ${calls} writes through the API server, ${failures.length} failed\n`);
    expect(calls).toBeGreaterThan(10);
    expect(failures).toEqual([]);
  });
});
