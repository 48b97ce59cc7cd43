// Transport security: TLS 1.2 at least, forward-secret AEAD suites only (a
// scan of every suite this OpenSSL knows, with an ECDSA and an RSA
// certificate), no plain HTTP on the admission port, metrics on their own
// plain port only, and client-certificate authentication with --client-ca.
import { Agent } from 'node:https';
import { connect as tcpConnect } from 'node:net';
import { getCiphers } from 'node:tls';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manifestClusterSource } from '../../../src/cluster/clusterSource.js';
import { parseConfig } from '../../../src/config/config.js';
import { startWebhookServer, type RunningWebhookServer } from '../../../src/cli/composition.js';
import { handshake, makeCa, makeLeaf, policyReview, post, spawnServe, tlsDir, isAnswerTo, type Pem, type SpawnedServer } from './support.js';
import { plainHttpRequest } from '../../support/https.js';

// What src/server/tls.ts promises for TLS 1.2 (IANA names, as getCipher().standardName reports them).
const MODERN_TLS12 = new Set([
  'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
  'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
  'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384',
  'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
  'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256',
  'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256',
]);

interface Served {
  server: RunningWebhookServer;
  ca: Pem;
}

const servers: RunningWebhookServer[] = [];
const spawned: SpawnedServer[] = [];
let ec: Served;
let rsa: Served;

async function serveWith(keyType: 'ec' | 'rsa'): Promise<Served> {
  const ca = await makeCa(`kga-tls-${keyType}-ca`, keyType);
  const files = await tlsDir(await makeLeaf(ca, { commonName: '127.0.0.1', usage: 'server', keyType }));
  const server = await startWebhookServer({
    config: parseConfig({ server: { port: 0, metricsPort: 0 } }),
    source: await manifestClusterSource(['examples']),
    logger: pino({ level: 'silent' }),
    tls: { certFile: files.certFile, keyFile: files.keyFile },
  });
  servers.push(server);
  return { server, ca };
}

beforeAll(async () => {
  [ec, rsa] = await Promise.all([serveWith('ec'), serveWith('rsa')]);
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await Promise.all(spawned.map((s) => s.kill('SIGKILL')));
});

/** A failure the server caused: it sent an alert (as opposed to a client that could not offer the suite). */
const serverAlert = (error: string | undefined) => /ALERT/.test(error ?? '');

describe('TLS versions and cipher suites', () => {
  it('refuses TLS 1.0 and 1.1 with a protocol_version alert, and speaks TLS 1.2 and 1.3', async () => {
    for (const version of ['TLSv1', 'TLSv1.1'] as const) {
      const result = await handshake(ec.server.url, { ca: ec.ca.certPem, minVersion: version, maxVersion: version, ciphers: 'DEFAULT@SECLEVEL=0' });
      expect(result.ok, version).toBe(false);
      expect(result.error, version).toBe('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
    }
    expect(await handshake(ec.server.url, { ca: ec.ca.certPem, maxVersion: 'TLSv1.2' })).toMatchObject({ ok: true, protocol: 'TLSv1.2' });
    expect(await handshake(ec.server.url, { ca: ec.ca.certPem })).toMatchObject({ ok: true, protocol: 'TLSv1.3' });
  });

  it.each(['ec', 'rsa'] as const)('accepts only forward-secret AEAD suites under TLS 1.2, scanning every suite (%s certificate)', async (keyType) => {
    const { server, ca } = keyType === 'ec' ? ec : rsa;
    const accepted: string[] = [];
    const refused: string[] = [];
    for (const suite of getCiphers().filter((c) => !c.startsWith('tls_'))) {
      const result = await handshake(server.url, { ca: ca.certPem, minVersion: 'TLSv1', maxVersion: 'TLSv1.2', ciphers: `${suite.toUpperCase()}:@SECLEVEL=0` });
      if (result.ok) accepted.push(result.cipher!);
      else if (serverAlert(result.error)) refused.push(suite);
      // Otherwise this client cannot offer the suite at all (PSK, SRP): nothing to learn.
    }
    process.stderr.write(`[hardening] TLS 1.2 scan (${keyType}): ${accepted.length} suites accepted (${accepted.join(', ')}), ${refused.length} refused by the server\n`);
    expect(accepted.length).toBeGreaterThan(0);
    for (const suite of accepted) expect(MODERN_TLS12.has(suite), suite).toBe(true);
    // The classic weak families are all among the refused.
    for (const weak of ['aes128-sha', 'aes256-sha256', 'aes128-gcm-sha256', 'dhe-rsa-aes128-sha', 'dhe-rsa-aes128-gcm-sha256', 'ecdhe-ecdsa-aes128-sha', 'ecdhe-rsa-aes256-sha384']) {
      expect(refused, weak).toContain(weak);
    }
  });

  it('under TLS 1.3 takes the GCM and ChaCha20 suites and refuses AES-CCM', async () => {
    for (const suite of ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256']) {
      expect(await handshake(ec.server.url, { ca: ec.ca.certPem, minVersion: 'TLSv1.3', ciphers: suite })).toMatchObject({ ok: true, protocol: 'TLSv1.3', cipher: suite });
    }
    {
      const suite = 'TLS_AES_128_CCM_SHA256';
      const result = await handshake(ec.server.url, { ca: ec.ca.certPem, minVersion: 'TLSv1.3', ciphers: suite });
      expect(result.ok, suite).toBe(false);
      expect(serverAlert(result.error), `${suite}: ${result.error}`).toBe(true);
    }
  });
});

describe('ports', () => {
  it('never answers plain HTTP on the admission port', async () => {
    const { port } = new URL(ec.server.url);
    const body = JSON.stringify(policyReview('plain'));
    const raw = await new Promise<string>((resolve) => {
      const socket = tcpConnect(Number(port), '127.0.0.1');
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
      socket.on('error', () => resolve(text));
      socket.on('close', () => resolve(text));
      socket.setTimeout(3_000, () => socket.destroy());
      socket.write(`POST /validate HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
    });
    expect(raw).not.toMatch(/^HTTP\//);
    expect(raw).not.toContain('AdmissionReview');
    // The HTTPS port still works.
    const answer = await post(`${ec.server.url}/validate`, body, { ca: ec.ca.certPem });
    expect(isAnswerTo(answer.text, 'plain')).toBe(true);
  });

  it('serves metrics only on their own plain-HTTP port, and nothing else there', async () => {
    expect((await plainHttpRequest(`${ec.server.metricsUrl}/metrics`)).text).toContain('kgateway_admission_requests_total');
    for (const [method, path] of [['POST', '/validate'], ['POST', '/mutate'], ['GET', '/healthz'], ['GET', '/readyz']] as const) {
      const res = await plainHttpRequest(`${ec.server.metricsUrl}${path}`, method);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.text).not.toContain('AdmissionReview');
    }
    expect((await handshake(ec.server.metricsUrl.replace('http:', 'https:'), { ca: ec.ca.certPem })).ok).toBe(false);
    const onAdmissionPort = await new Promise<number>((resolve, reject) => {
      // GET /metrics over HTTPS on the admission port.
      void import('node:https').then(({ get }) =>
        get(`${ec.server.url}/metrics`, { ca: ec.ca.certPem, agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        }).on('error', reject),
      );
    });
    expect(onAdmissionPort).toBe(404);
    expect(new URL(ec.server.metricsUrl).hostname).toBe('127.0.0.1');
  });
});

describe('client certificates: serve --client-ca', () => {
  let server: SpawnedServer;
  let servingCa: Pem;
  let clientCa: Pem;
  let goodClient: Pem;
  let strangerClient: Pem;
  let servingOnly: Pem;

  beforeAll(async () => {
    servingCa = await makeCa('kga-serving-ca');
    clientCa = await makeCa('kga-apiserver-client-ca');
    const strangerCa = await makeCa('kga-stranger-ca');
    goodClient = await makeLeaf(clientCa, { commonName: 'kube-apiserver', usage: 'client' });
    strangerClient = await makeLeaf(strangerCa, { commonName: 'kube-apiserver', usage: 'client' });
    servingOnly = await makeLeaf(clientCa, { commonName: 'kube-apiserver', usage: 'server' });
    const files = await tlsDir(await makeLeaf(servingCa, { commonName: '127.0.0.1', usage: 'server' }), { 'client-ca.crt': clientCa.certPem });
    server = await spawnServe(['--manifests', 'examples', '--tls-cert', files.certFile, '--tls-key', files.keyFile, '--client-ca', files.file('client-ca.crt')]);
    spawned.push(server);
  });

  const review = (uid: string) => JSON.stringify(policyReview(uid));

  it('answers a client whose certificate the client CA signed', async () => {
    for (const protocol of ['TLSv1.2', 'TLSv1.3'] as const) {
      const uid = `good-${protocol}`;
      const agent = new Agent({ minVersion: protocol, maxVersion: protocol, ca: servingCa.certPem, cert: goodClient.certPem, key: goodClient.keyPem });
      const answer = await post(`${server.url}/validate`, review(uid), { ca: servingCa.certPem, agent });
      agent.destroy();
      expect(answer.status, protocol).toBe(200);
      expect(isAnswerTo(answer.text, uid)).toBe(true);
    }
  });

  it.each<[string, () => { cert?: string; key?: string }]>([
    ['no certificate', () => ({})],
    ['a certificate from another CA', () => ({ cert: strangerClient.certPem, key: strangerClient.keyPem })],
    ['a certificate of the client CA made for serving, not for client use', () => ({ cert: servingOnly.certPem, key: servingOnly.keyPem })],
  ])('refuses admission requests from a client with %s', async (_name, credentials) => {
    for (const path of ['/validate', '/mutate']) {
      const outcome = await post(`${server.url}${path}`, review('refused'), { ca: servingCa.certPem, ...credentials() }).then(
        (answer) => answer,
        (error: NodeJS.ErrnoException) => ({ status: 0, text: error.code ?? error.message }),
      );
      expect(outcome.status, `${path}: ${outcome.text}`).toBe(401);
      const body = JSON.parse(outcome.text);
      expect(body).toMatchObject({ kind: 'AdmissionReview', response: { allowed: false, status: { code: 401, reason: 'Unauthorized' } } });
      expect(body.response.status.message).toMatch(/client certificate/);
    }
  });

  it('still answers the health probes without a client certificate (the kubelet sends none)', async () => {
    for (const path of ['/healthz', '/readyz']) {
      const status = await new Promise<number>((resolve, reject) => {
        void import('node:https').then(({ get }) =>
          get(`${server.url}${path}`, { ca: servingCa.certPem, agent: false }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          }).on('error', reject),
        );
      });
      expect(status, path).toBe(200);
    }
  });
});
