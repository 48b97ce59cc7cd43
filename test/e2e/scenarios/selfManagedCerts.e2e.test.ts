// Self-managed certificates (the chart's default) on a real node (kind's or
// the bare one). Two replicas
// race at first start: one Secret, one CA, both pods serving its certificate,
// every caBundle holding it. Then the CA ages, and pods replaced one by one
// under a steady load rotate it: no write fails, there is still one Secret,
// and at every moment every caBundle trusts every certificate a pod may be
// serving.
//
// A CA lives a year and rotates with a third of its life left: the test cannot
// wait for that, so it ages the stored CA instead, re-issuing the same CA (same
// key and name, so everything it signed still verifies) with its validity moved
// into the past. That is the only fake; the pods, the Secret, the API server
// and its TLS checks of the webhook calls are real. Figures: docs/real-node.md.
import { createPublicKey, X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { kubeRequest } from '../../../harness/index.ts';
import { describeLoad, startWriteLoad, type LoadReport } from '../../support/writeLoad.js';
import { ensureNamespaces } from '../support.js';
import { podLog, RELEASE, RELEASE_NS, scenarioCluster, scenarioTarget, waitRolledOut, webhookPods, type ScenarioCluster } from './cluster.js';

const target = scenarioTarget('self-managed certificates');
const LOAD_NS = 'certs-load';
const SECRET = `${RELEASE}-tls`;
const SECRET_PATH = `/api/v1/namespaces/${RELEASE_NS}/secrets/${SECRET}`;
const DAY = 86_400_000;
const RATE = 30;
const WEBHOOK_CONFIGS = [
  `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${RELEASE}`,
  `/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${RELEASE}`,
];

interface Stored {
  caCert: string;
  caKey: string;
  cert: string;
  key: string;
  resourceVersion: string;
}

function pems(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((c) => `${c}\n`) ?? [];
}

async function readSecret(cluster: ScenarioCluster): Promise<Stored> {
  const res = await kubeRequest(cluster.kc, 'GET', SECRET_PATH);
  if (res.status !== 200) throw new Error(`reading ${SECRET}: ${res.status} ${res.text}`);
  const d = (k: string) => Buffer.from(res.body.data[k] ?? '', 'base64').toString('utf8');
  return { caCert: d('ca.crt'), caKey: d('ca.key'), cert: d('tls.crt'), key: d('tls.key'), resourceVersion: res.body.metadata.resourceVersion };
}

async function writeSecretCa(cluster: ScenarioCluster, stored: Stored, caCert: string): Promise<void> {
  const res = await kubeRequest(cluster.kc, 'PATCH', SECRET_PATH, {
    body: { metadata: { resourceVersion: stored.resourceVersion }, data: { 'ca.crt': Buffer.from(caCert).toString('base64') } },
    contentType: 'application/merge-patch+json',
  });
  if (res.status !== 200) throw new Error(`writing ${SECRET}: ${res.status} ${res.text}`);
}

/** The caBundle of every webhook of the chart's configurations (PEM), by webhook name. */
async function caBundles(cluster: ScenarioCluster): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const path of WEBHOOK_CONFIGS) {
    const res = await kubeRequest(cluster.kc, 'GET', path);
    if (res.status !== 200) throw new Error(`reading ${path}: ${res.status} ${res.text}`);
    for (const w of res.body.webhooks as { name: string; clientConfig: { caBundle?: string } }[]) {
      out.set(w.name, Buffer.from(w.clientConfig.caBundle ?? '', 'base64').toString('utf8'));
    }
  }
  return out;
}

/** Whether some CA of `bundle` signed `leaf`. */
function trusts(bundle: string, leaf: string): boolean {
  const cert = new X509Certificate(leaf);
  return pems(bundle).some((pem) => {
    const ca = new X509Certificate(pem);
    return cert.checkIssued(ca) && cert.verify(ca.publicKey) && Date.parse(ca.validTo) > Date.now();
  });
}

/**
 * The same CA (key and name) re-issued with its validity moved: what the
 * stored CA looks like once it has aged to `leftMs` of a 365-day life.
 */
async function agedCa(caCertPem: string, caKeyPem: string, leftMs: number): Promise<string> {
  const { generate } = await import('selfsigned');
  const original = new X509Certificate(caCertPem);
  const cn = /CN=([^\n,]+)/.exec(original.subject)?.[1] ?? 'kgateway-admission-ca';
  const notAfterDate = new Date(Date.now() + leftMs);
  const aged = await generate([{ name: 'commonName', value: cn }], {
    keyType: 'ec',
    algorithm: 'sha256',
    keyPair: { privateKey: caKeyPem, publicKey: createPublicKey(caKeyPem).export({ type: 'spki', format: 'pem' }) as string },
    notBeforeDate: new Date(notAfterDate.getTime() - 365 * DAY),
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  return aged.cert.endsWith('\n') ? aged.cert : `${aged.cert}\n`;
}

/** SHA-256 fingerprint of the certificate a pod serves, fetched from inside the node's network namespace. */
async function servedFingerprint(cluster: ScenarioCluster, ip: string): Promise<string> {
  const script = `const s = require('node:tls').connect({ host: process.argv[1], port: 8443, rejectUnauthorized: false }, () => { console.log(s.getPeerCertificate().fingerprint256); s.end(); });
s.on('error', (e) => { console.error(e.message); process.exit(1); });`;
  const res = await cluster.inNode(process.execPath, ['-e', script, ip]);
  if (res.code !== 0) throw new Error(`TLS to ${ip}:8443 from the node: ${res.output}`);
  return res.output.trim();
}

async function managedSecrets(cluster: ScenarioCluster): Promise<string[]> {
  const res = await kubeRequest(cluster.kc, 'GET', `/api/v1/namespaces/${RELEASE_NS}/secrets?labelSelector=${encodeURIComponent('app.kubernetes.io/component=webhook-certificates')}`);
  return (res.body.items as { metadata: { name: string } }[]).map((s) => s.metadata.name);
}

/** Every pod serves the Secret's certificate, every caBundle is the Secret's ca.crt. */
async function expectConsistent(cluster: ScenarioCluster): Promise<Stored> {
  const stored = await readSecret(cluster);
  expect(await managedSecrets(cluster)).toEqual([SECRET]);
  const bundles = await caBundles(cluster);
  expect(bundles.size).toBe(3);
  for (const [name, bundle] of bundles) expect(bundle, `caBundle of ${name}`).toBe(stored.caCert);
  const leaf = new X509Certificate(stored.cert).fingerprint256;
  for (const pod of await webhookPods(cluster.kc)) expect(await servedFingerprint(cluster, pod.ip!), `certificate served by ${pod.name}`).toBe(leaf);
  return stored;
}

/**
 * Samples every 250 ms: each caBundle must trust every certificate a pod may
 * be serving: the one stored when the phase began (the old pods keep it) and,
 * once a new pod is ready, the one the Secret holds (what new pods load).
 */
function watchCaBundles(cluster: ScenarioCluster, startLeaf: string, oldPods: Set<string>): { stop(): Promise<{ samples: number; wrong: string[]; leaves: number }> } {
  let stopped = false;
  let samples = 0;
  const wrong: string[] = [];
  const leaves = new Set([startLeaf]);
  const loop = (async () => {
    while (!stopped) {
      try {
        const [stored, pods] = await Promise.all([readSecret(cluster), webhookPods(cluster.kc)]);
        leaves.add(stored.cert);
        const newPodReady = pods.some((p) => p.ready && !oldPods.has(p.name));
        for (const [name, bundle] of await caBundles(cluster)) {
          for (const leaf of newPodReady ? [startLeaf, stored.cert] : [startLeaf]) {
            if (!trusts(bundle, leaf)) wrong.push(`${name}: caBundle (${pems(bundle).length} CAs) does not trust ${new X509Certificate(leaf).fingerprint256.slice(0, 20)}…`);
          }
        }
        samples++;
      } catch (error) {
        wrong.push(`sample failed: ${(error as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { samples, wrong, leaves: leaves.size };
    },
  };
}

/** Ages the signing CA, then rolls the pods one by one under load; returns the load's report. */
async function rotateUnderLoad(cluster: ScenarioCluster, leftMs: number, what: string, namePrefix: string): Promise<{ report: LoadReport; before: Stored; after: Stored }> {
  const before = await readSecret(cluster);
  const [signing, ...rest] = pems(before.caCert);
  const aged = await agedCa(signing!, before.caKey, leftMs);
  // The aged CA is the same CA: what it signed still verifies.
  const leaf = new X509Certificate(before.cert);
  const agedX = new X509Certificate(aged);
  expect(leaf.checkIssued(agedX) && leaf.verify(agedX.publicKey)).toBe(true);
  await writeSecretCa(cluster, before, [aged, ...rest].join(''));
  const load = startWriteLoad(cluster.kc, { namespace: LOAD_NS, ratePerSecond: RATE, namePrefix });
  const bundles = watchCaBundles(cluster, before.cert, new Set((await webhookPods(cluster.kc)).map((p) => p.name)));
  let report: LoadReport;
  try {
    await new Promise((r) => setTimeout(r, 5_000));
    const restart = await cluster.kubectl(['-n', RELEASE_NS, 'rollout', 'restart', `deployment/${RELEASE}`]);
    expect(restart.code, restart.output).toBe(0);
    const status = await cluster.kubectl(['-n', RELEASE_NS, 'rollout', 'status', `deployment/${RELEASE}`, '--timeout=5m']);
    expect(status.code, status.output).toBe(0);
    const ms = restart.ms + status.ms + (await waitRolledOut(cluster.kc));
    process.stderr.write(`[e2e] ${what}: pods replaced one by one in ${(ms / 1000).toFixed(1)} s\n`);
    await new Promise((r) => setTimeout(r, 5_000));
  } finally {
    report = await load.stop();
    const seen = await bundles.stop();
    process.stderr.write(describeLoad(what, report));
    process.stderr.write(`[e2e] ${what}: caBundle checked ${seen.samples} times, ${seen.wrong.length} wrong, ${seen.leaves} serving certificates seen in the Secret\n`);
    expect(seen.wrong).toEqual([]);
    expect(seen.samples).toBeGreaterThan(10);
  }
  expect(report.failures, describeLoad(what, report)).toEqual([]);
  expect(report.ratePerSecond).toBeGreaterThanOrEqual(20);
  return { report, before, after: await expectConsistent(cluster) };
}

describe.skipIf(target.skip)('self-managed certificates on a real node', () => {
  let cluster: ScenarioCluster;

  beforeAll(async () => {
    cluster = await scenarioCluster(target.name);
    await ensureNamespaces(cluster.kc, LOAD_NS);
    await waitRolledOut(cluster.kc, 120_000);
  }, 2_400_000);

  it('two replicas starting together: one Secret, one CA created, both pods serving its certificate, every caBundle its CA', async () => {
    const pods = await webhookPods(cluster.kc);
    expect(pods).toHaveLength(2);
    const logs = await Promise.all(pods.map((p) => podLog(cluster.kc, p.name)));
    const creators = logs.filter((l) => l.includes('created the CA and serving certificate')).length;
    const started = await Promise.all(pods.map(async (p) => {
      const res = await kubeRequest(cluster.kc, 'GET', `/api/v1/namespaces/${RELEASE_NS}/pods/${p.name}`);
      return Date.parse(res.body.status.containerStatuses[0].state.running.startedAt);
    }));
    process.stderr.write(`[e2e] first start: the containers started ${Math.abs(started[0]! - started[1]!)} ms apart; ${creators} created the CA\n`);
    expect(creators).toBe(1);
    const stored = await expectConsistent(cluster);
    expect(pems(stored.caCert)).toHaveLength(1);
  });

  it('the CA near its end (10 days left): pods replaced one by one under load make a new CA and certificate, 0 failed writes, caBundle right throughout', async () => {
    const { before, after } = await rotateUnderLoad(cluster, 10 * DAY, 'rotation to a new CA (the old one expiring)', 'rotate-new-ca');
    const [newCa, oldCa] = pems(after.caCert);
    expect(pems(after.caCert)).toHaveLength(2);
    // The expiring CA stays trusted after the new one, for the pods still serving its certificate.
    expect(new X509Certificate(oldCa!).publicKey.equals(new X509Certificate(pems(before.caCert)[0]!).publicKey)).toBe(true);
    expect(new X509Certificate(newCa!).publicKey.equals(new X509Certificate(pems(before.caCert)[0]!).publicKey)).toBe(false);
    // The pods serve a new certificate of the new CA.
    expect(after.cert).not.toBe(before.cert);
    expect(trusts(newCa!, after.cert)).toBe(true);
  }, 900_000);

  it('the CA with less than a third of its life left: pods replaced one by one under load add a new CA beside it, 0 failed writes, caBundle right throughout', async () => {
    const { before, after } = await rotateUnderLoad(cluster, 60 * DAY, 'rotation adding a CA (a third of its life left)', 'rotate-add-ca');
    const bundle = pems(after.caCert);
    expect(bundle).toHaveLength(2);
    // The new CA goes first; the aged one stays trusted after it, and its
    // certificate keeps serving until the new CA has been in every caBundle
    // for the overlap (an hour).
    expect(new X509Certificate(bundle[1]!).publicKey.equals(new X509Certificate(pems(before.caCert)[0]!).publicKey)).toBe(true);
    expect(after.cert).toBe(before.cert);
  }, 900_000);
});
