// Self-managed certificates (certificates.mode=selfManaged) against a real
// kube-apiserver, in process: renewal keeps the CA, an unusable Secret is
// replaced, a renewal by another replica reaches a running server without a
// restart and without a failed request, caBundle comes back when something
// removes it, and webhook configurations created after start get it.
import { X509Certificate } from 'node:crypto';
import { Writable } from 'node:stream';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeApi } from '../../src/kube/kubeApi.js';
import { manifestClusterSource } from '../../src/cluster/clusterSource.js';
import { SelfManagedCertificates } from '../../src/certificates/selfManaged.js';
import { serviceHostNames } from '../../src/certificates/selfManagedPlan.js';
import { parseConfig } from '../../src/config/config.js';
import { generateCertificates, issueServingCertificate, splitPem } from '../../src/certificates/generate.js';
import { startWebhookServer, type RunningWebhookServer } from '../../src/cli/composition.js';
import { applyClusterObject, kubeRequest, startControlPlane, type ControlPlane } from '../../harness/index.ts';
import { describeOnlyOn, e2eTarget } from '../support/e2eTarget.js';
import { pollUntil } from './support.js';

const target = await e2eTarget();
const NAMESPACE = 'kga-certs';
const DAY = 86_400_000;
const logger = pino({ level: process.env.KGA_TEST_LOGS ? 'debug' : 'silent' });

describeOnlyOn(
  target,
  ['process'],
  "it drives SelfManagedCertificates in this process with forged Secrets and clocks; on pods, the chart's one Secret and caBundle are checked in chart.e2e, and the race and rotation under load are the node's own tests",
)('self-managed certificates against a real kube-apiserver', () => {
  let cp: ControlPlane;
  let work: string;
  const running: SelfManagedCertificates[] = [];
  const servers: RunningWebhookServer[] = [];

  beforeAll(async () => {
    cp = await startControlPlane({ installCrds: false });
    work = await mkdtemp(join(tmpdir(), 'kga-selfmanaged-'));
    const res = await kubeRequest(cp.kubeConfig, 'POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } } });
    expect(res.status, res.text).toBe(201);
  });

  afterAll(async () => {
    for (const m of running) m.stop();
    for (const s of servers) await s.close();
    await cp?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  let counter = 0;
  function manager(name: string, options: Partial<ConstructorParameters<typeof SelfManagedCertificates>[0]> = {}): SelfManagedCertificates {
    const m = new SelfManagedCertificates({
      api: new KubeApi(cp.kubeConfig),
      namespace: NAMESPACE,
      secretName: `${name}-tls`,
      serviceName: name,
      webhookConfigs: [name],
      dir: join(work, `${name}-${++counter}`),
      logger,
      ...options,
    });
    running.push(m);
    return m;
  }

  const secretPath = (name: string) => `/api/v1/namespaces/${NAMESPACE}/secrets/${name}-tls`;
  const readSecret = async (name: string) => {
    const res = await kubeRequest(cp.kubeConfig, 'GET', secretPath(name));
    expect(res.status, res.text).toBe(200);
    const data = res.body.data as Record<string, string>;
    const text = (k: string) => Buffer.from(data[k]!, 'base64').toString();
    return { resourceVersion: res.body.metadata.resourceVersion as string, caCert: text('ca.crt'), caKey: text('ca.key'), cert: text('tls.crt'), key: text('tls.key') };
  };
  const putSecret = async (name: string, stored: { caCert: string; caKey: string; cert: string; key: string }, create = false) => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const body = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: { name: `${name}-tls`, namespace: NAMESPACE },
      data: { 'ca.crt': b64(stored.caCert), 'ca.key': b64(stored.caKey), 'tls.crt': b64(stored.cert), 'tls.key': b64(stored.key) },
    };
    const res = create
      ? await kubeRequest(cp.kubeConfig, 'POST', `/api/v1/namespaces/${NAMESPACE}/secrets`, { body })
      : await kubeRequest(cp.kubeConfig, 'PUT', secretPath(name), { body });
    expect(res.status, res.text).toBe(create ? 201 : 200);
  };
  const webhookConfig = (name: string, kind: 'MutatingWebhookConfiguration' | 'ValidatingWebhookConfiguration') => ({
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind,
    metadata: { name },
    webhooks: ['a', 'b'].map((w) => ({
      name: `${w}.${name}.kgateway-admission.test`,
      clientConfig: { service: { name, namespace: NAMESPACE, path: '/validate', port: 443 } },
      rules: [{ apiGroups: [''], apiVersions: ['v1'], resources: ['configmaps'], operations: ['CREATE'], scope: 'Namespaced' }],
      // Matches nothing: these configurations only hold caBundle here.
      objectSelector: { matchLabels: { 'kgateway-admission.test/never': 'true' } },
      sideEffects: 'None',
      admissionReviewVersions: ['v1'],
      failurePolicy: 'Ignore',
    })),
  });
  const webhookPath = (name: string, plural: string) => `/apis/admissionregistration.k8s.io/v1/${plural}/${name}`;
  const caBundles = async (name: string) => {
    const bundles: (string | undefined)[] = [];
    for (const plural of ['mutatingwebhookconfigurations', 'validatingwebhookconfigurations']) {
      const res = await kubeRequest(cp.kubeConfig, 'GET', webhookPath(name, plural));
      if (res.status === 200) bundles.push(...res.body.webhooks.map((w: { clientConfig: { caBundle?: string } }) => w.clientConfig.caBundle));
    }
    return bundles;
  };

  it('creates the Secret once for racing replicas, and every replica serves it', async () => {
    await applyClusterObject(cp.kubeConfig, webhookConfig('race', 'ValidatingWebhookConfiguration'));
    const messages: string[] = [];
    const capture = pino({ level: 'info' }, new Writable({ write: (chunk: Buffer, _e, done) => (messages.push(JSON.parse(chunk.toString()).msg), done()) }));
    const replicas = [1, 2, 3, 4].map(() => manager('race', { logger: capture }));
    await Promise.all(replicas.map((r) => r.start()));
    // Each GET saw no Secret; one create won, the others got 409 and adopted it.
    expect(messages.filter((m) => m.includes('created the CA')).length).toBe(1);
    const secret = await readSecret('race');
    for (const r of replicas) expect(r.certificates?.cert).toBe(secret.cert);
    const leaf = new X509Certificate(secret.cert);
    for (const host of serviceHostNames('race', NAMESPACE)) expect(leaf.checkHost(host), host).toBeDefined();
    expect(await caBundles('race')).toEqual([Buffer.from(secret.caCert).toString('base64'), Buffer.from(secret.caCert).toString('base64')]);
  });

  it('renews a serving certificate that is about to expire, keeping the CA (caBundle unchanged)', async () => {
    const { caCert, caKey } = await generateCertificates(['expiring.kga-certs.svc'], 3650);
    const short = await issueServingCertificate({ cert: caCert, key: caKey }, serviceHostNames('expiring', NAMESPACE), 10);
    await putSecret('expiring', { caCert, caKey, ...short }, true);
    await manager('expiring', { renewBeforeDays: 30 }).start();
    const renewed = await readSecret('expiring');
    expect(renewed.caCert).toBe(caCert);
    expect(renewed.cert).not.toBe(short.cert);
    const leaf = new X509Certificate(renewed.cert);
    expect(Date.parse(leaf.validTo) - Date.now()).toBeGreaterThan(300 * DAY);
    expect(leaf.checkIssued(new X509Certificate(caCert))).toBe(true);
  });

  it('replaces a serving certificate for the wrong Service, and a Secret whose CA key is unusable (still trusting the old CA)', async () => {
    const { caCert, caKey } = await generateCertificates(['x'], 3650);
    const wrongHost = await issueServingCertificate({ cert: caCert, key: caKey }, ['other.kga-certs.svc'], 365);
    await putSecret('wronghost', { caCert, caKey, ...wrongHost }, true);
    await manager('wronghost').start();
    const fixed = await readSecret('wronghost');
    expect(fixed.caCert).toBe(caCert);
    expect(new X509Certificate(fixed.cert).checkHost('wronghost.kga-certs.svc')).toBeDefined();

    const other = await generateCertificates(['y'], 3650);
    await putSecret('badca', { caCert, caKey: other.caKey, cert: wrongHost.cert, key: wrongHost.key }, true);
    await manager('badca').start();
    const replaced = await readSecret('badca');
    const bundle = splitPem(replaced.caCert);
    expect(bundle).toHaveLength(2);
    expect(bundle[1]!.trim()).toBe(caCert.trim());
    expect(new X509Certificate(replaced.cert).checkIssued(new X509Certificate(bundle[0]!))).toBe(true);
  });

  it('sets caBundle in webhook configurations created after start (Helm creates them after the Deployment)', async () => {
    const m = manager('late', { checkIntervalMs: 60_000 });
    await m.start();
    expect(await caBundles('late')).toEqual([]);
    await applyClusterObject(cp.kubeConfig, webhookConfig('late', 'MutatingWebhookConfiguration'));
    await applyClusterObject(cp.kubeConfig, webhookConfig('late', 'ValidatingWebhookConfiguration'));
    const expected = Buffer.from(m.certificates!.caCert).toString('base64');
    const { ms } = await pollUntil('caBundle in the late configurations', async () => ((await caBundles('late')).every((b) => b === expected) && (await caBundles('late')).length === 4 ? true : undefined), 20_000, 100);
    process.stderr.write(`[self-managed] caBundle set ${Math.round(ms)} ms after the configurations appeared\n`);
  });

  it('puts caBundle back when an update of the configuration drops it', async () => {
    await applyClusterObject(cp.kubeConfig, webhookConfig('drift', 'ValidatingWebhookConfiguration'));
    const m = manager('drift', { checkIntervalMs: 300 });
    await m.start();
    const expected = Buffer.from(m.certificates!.caCert).toString('base64');
    expect(await caBundles('drift')).toEqual([expected, expected]);
    const current = (await kubeRequest(cp.kubeConfig, 'GET', webhookPath('drift', 'validatingwebhookconfigurations'))).body;
    for (const w of current.webhooks) delete w.clientConfig.caBundle;
    const put = await kubeRequest(cp.kubeConfig, 'PUT', webhookPath('drift', 'validatingwebhookconfigurations'), { body: current });
    expect(put.status, put.text).toBe(200);
    await pollUntil('caBundle to come back', async () => ((await caBundles('drift')).every((b) => b === expected) ? true : undefined), 10_000, 100);
  });

  it('recreates a Secret deleted while running, still trusting the CA in use until every replica has the new one', async () => {
    await applyClusterObject(cp.kubeConfig, webhookConfig('deleted', 'MutatingWebhookConfiguration'));
    const m = manager('deleted', { checkIntervalMs: 200 });
    await m.start();
    const before = await readSecret('deleted');
    expect((await kubeRequest(cp.kubeConfig, 'DELETE', secretPath('deleted'))).status).toBe(200);
    const { value: after } = await pollUntil('the Secret to be recreated', async () => {
      const res = await kubeRequest(cp.kubeConfig, 'GET', secretPath('deleted'));
      return res.status === 200 ? readSecret('deleted') : undefined;
    }, 10_000, 100);
    const bundle = splitPem(after.caCert);
    expect(bundle).toHaveLength(2);
    expect(bundle[1]!.trim()).toBe(before.caCert.trim());
    const expected = Buffer.from(after.caCert).toString('base64');
    await pollUntil('caBundle to carry both CAs', async () => ((await caBundles('deleted')).every((b) => b === expected) ? true : undefined), 10_000, 100);
    expect(m.certificates?.cert).toBe(after.cert);
  });

  it('rotates a CA with a third of its life left in two steps: the new CA goes into caBundle beside the old one first, the serving certificate moves to it only after', async () => {
    await applyClusterObject(cp.kubeConfig, webhookConfig('caroll', 'ValidatingWebhookConfiguration'));
    // A CA 3 days long with half a day left (less than a third), and its serving certificate.
    const { generate } = await import('selfsigned');
    const now = Date.now();
    const oldCa = await generate([{ name: 'commonName', value: 'old-ca' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      notBeforeDate: new Date(now - 2.5 * DAY),
      notAfterDate: new Date(now + 0.5 * DAY),
      extensions: [{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true }],
    });
    const oldLeaf = await issueServingCertificate({ cert: oldCa.cert, key: oldCa.private }, serviceHostNames('caroll', NAMESPACE), 365);
    await putSecret('caroll', { caCert: oldCa.cert, caKey: oldCa.private, ...oldLeaf }, true);

    const m = manager('caroll', { renewBeforeDays: 0.1, caOverlapMs: 1_500, checkIntervalMs: 300 });
    await m.start();
    // Step 1: a new CA first in the bundle, the old one kept, the old serving certificate still served.
    const added = await readSecret('caroll');
    const cas = splitPem(added.caCert);
    expect(cas).toHaveLength(2);
    expect(cas[1]!.trim()).toBe(oldCa.cert.trim());
    const newCa = new X509Certificate(cas[0]!);
    expect(Date.parse(newCa.validTo) - Date.parse(newCa.validFrom)).toBeGreaterThan(360 * DAY);
    expect(Date.parse(newCa.validTo) - Date.parse(newCa.validFrom)).toBeLessThan(370 * DAY);
    expect(added.cert).toBe(oldLeaf.cert);
    expect(m.certificates?.cert).toBe(oldLeaf.cert);
    const bothCas = Buffer.from(added.caCert).toString('base64');
    expect(await caBundles('caroll')).toEqual([bothCas, bothCas]);

    // Step 2, after the overlap: a serving certificate of the new CA, while caBundle trusts both.
    const { value: moved } = await pollUntil('the serving certificate to move to the new CA', async () => {
      const secret = await readSecret('caroll');
      return secret.cert !== oldLeaf.cert ? secret : undefined;
    }, 15_000, 100);
    expect(new X509Certificate(moved.cert).checkIssued(newCa)).toBe(true);
    expect(moved.caCert).toBe(added.caCert);
    expect(await caBundles('caroll')).toEqual([bothCas, bothCas]);
    await pollUntil('the replica to serve it', async () => (m.certificates?.cert === moved.cert ? true : undefined), 5_000, 50);
  });

  it('a renewal by another replica reaches the running server without a restart and without a failed request', async () => {
    const m = manager('rotate', { checkIntervalMs: 250 });
    const files = await m.start();
    const server = await startWebhookServer({
      config: parseConfig({ server: { host: '127.0.0.1', port: 0, metricsPort: 0 } }),
      source: await manifestClusterSource([]),
      logger,
      tls: { certFile: files.certFile, keyFile: files.keyFile },
      certificatePollMs: 100,
    });
    servers.push(server);
    const port = Number(new URL(server.url).port);
    const first = await readSecret('rotate');
    const servername = 'rotate.kga-certs.svc';

    // Clients all along: fresh connections, and keep-alive ones that stay open.
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 2 });
    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const seen = new Set<string>();
    const client = async (agent: Agent | false) => {
      while (!stop) {
        try {
          const { status, fingerprint } = await get(port, first.caCert, servername, agent);
          if (status === 200) ok++;
          else failures.push(`status ${status}`);
          if (fingerprint) seen.add(fingerprint);
        } catch (error) {
          failures.push((error as Error).message);
        }
      }
    };
    const clients = [client(false), client(false), client(keepAlive), client(keepAlive)];

    // Another replica renews: same CA, new serving certificate.
    await new Promise((r) => setTimeout(r, 300));
    const next = await issueServingCertificate({ cert: first.caCert, key: first.caKey }, serviceHostNames('rotate', NAMESPACE), 365);
    await putSecret('rotate', { ...first, ...next });
    const nextFingerprint = new X509Certificate(next.cert).fingerprint256;
    const { ms } = await pollUntil('the new certificate to be served', async () => ((await get(port, first.caCert, servername, false)).fingerprint === nextFingerprint ? true : undefined), 15_000, 50);
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await Promise.all(clients);
    keepAlive.destroy();
    process.stderr.write(`[self-managed] new certificate served ${Math.round(ms)} ms after the Secret changed; ${ok} requests, ${failures.length} failed\n`);
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(20);
    expect(seen).toContain(new X509Certificate(first.cert).fingerprint256);
    expect(seen).toContain(nextFingerprint);
    expect(m.certificates?.cert).toBe(next.cert);
  });
});

function get(port: number, ca: string, servername: string, agent: Agent | false): Promise<{ status: number; fingerprint: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', ca, servername, agent, timeout: 5000 }, (res) => {
      const fingerprint = (res.socket as import('node:tls').TLSSocket).getPeerX509Certificate?.()?.fingerprint256;
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, fingerprint }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}
