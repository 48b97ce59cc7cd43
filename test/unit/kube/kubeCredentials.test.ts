import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { inClusterConfig, StaticKubeConfig, staticKubeConfigFromFile } from '../../../src/kube/kubeCredentials.js';
import { loadKubeConnection } from '../../../src/kube/kubeConnection.js';

const b64 = (text: string) => Buffer.from(text).toString('base64');

function kubeconfig(dir: string, user: Record<string, unknown>, cluster: Record<string, unknown> = { server: 'https://10.0.0.1:6443', 'certificate-authority-data': b64('CA PEM') }): string {
  const file = path.join(dir, `kubeconfig-${Math.random().toString(36).slice(2)}`);
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'ctx',
      contexts: [{ name: 'other', context: { cluster: 'nope', user: 'nope' } }, { name: 'ctx', context: { cluster: 'c', user: 'u' } }],
      clusters: [{ name: 'c', cluster }],
      users: [{ name: 'u', user }],
    }),
  );
  return file;
}

async function httpsOptions(config: StaticKubeConfig): Promise<RequestOptions> {
  const options: RequestOptions = { headers: { accept: 'application/json' } };
  await config.applyToHTTPSOptions(options);
  return options;
}

describe('staticKubeConfigFromFile', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kga-kubeconfig-'));

  it('reads the current context: server, CA and client certificate data', async () => {
    const config = staticKubeConfigFromFile(kubeconfig(dir, { 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY') })) as StaticKubeConfig;
    expect(config.getCurrentCluster()).toEqual({ name: 'c', server: 'https://10.0.0.1:6443', skipTLSVerify: false });
    const options = await httpsOptions(config);
    expect(String(options.ca)).toBe('CA PEM');
    expect(String(options.cert)).toBe('CERT');
    expect(String(options.key)).toBe('KEY');
    expect(options.headers).toEqual({ accept: 'application/json' });
    expect(options.rejectUnauthorized).toBeUndefined();
  });

  it('reads certificate files relative to the kubeconfig, as kubectl does', async () => {
    const sub = mkdtempSync(path.join(dir, 'rel-'));
    writeFileSync(path.join(sub, 'ca.crt'), 'CA FILE');
    writeFileSync(path.join(sub, 'client.crt'), 'CERT FILE');
    writeFileSync(path.join(sub, 'client.key'), 'KEY FILE');
    writeFileSync(path.join(sub, 'token'), 'file-token\n');
    const file = kubeconfig(sub, { 'client-certificate': 'client.crt', 'client-key': 'client.key', tokenFile: 'token' }, { server: 'https://api:6443/', 'certificate-authority': 'ca.crt', 'tls-server-name': 'kubernetes' });
    const options = await httpsOptions(staticKubeConfigFromFile(file) as StaticKubeConfig);
    expect([String(options.ca), String(options.cert), String(options.key), options.servername]).toEqual(['CA FILE', 'CERT FILE', 'KEY FILE', 'kubernetes']);
    expect((options.headers as Record<string, string>).Authorization).toBe('Bearer file-token');
  });

  it('sends a token, basic auth or impersonation as headers on node:https requests (lists and watches alike)', async () => {
    const token = staticKubeConfigFromFile(kubeconfig(dir, { token: 'abc', as: 'jane' })) as StaticKubeConfig;
    expect((await httpsOptions(token)).headers).toEqual({ accept: 'application/json', Authorization: 'Bearer abc', 'Impersonate-User': 'jane' });
    const basic = staticKubeConfigFromFile(kubeconfig(dir, { username: 'u', password: 'p' })) as StaticKubeConfig;
    expect((await httpsOptions(basic)).headers).toMatchObject({ Authorization: `Basic ${b64('u:p')}` });
  });

  it('allows plain HTTP only with insecure-skip-tls-verify', async () => {
    expect(() => staticKubeConfigFromFile(kubeconfig(dir, {}, { server: 'http://127.0.0.1:8080' }))).toThrow(/plain HTTP .* needs insecure-skip-tls-verify/);
    const config = staticKubeConfigFromFile(kubeconfig(dir, {}, { server: 'http://127.0.0.1:8080', 'insecure-skip-tls-verify': true })) as StaticKubeConfig;
    expect((await httpsOptions(config)).rejectUnauthorized).toBe(false);
  });

  it('says what is wrong with a kubeconfig it cannot use', () => {
    const file = path.join(dir, 'broken');
    writeFileSync(file, 'clusters: []\n');
    expect(() => staticKubeConfigFromFile(file)).toThrow(/no current-context/);
    writeFileSync(file, JSON.stringify({ 'current-context': 'x', contexts: [{ name: 'x', context: { cluster: 'gone', user: 'u' } }] }));
    expect(() => staticKubeConfigFromFile(file)).toThrow(/no cluster named "gone"/);
    writeFileSync(file, ': : [');
    expect(() => staticKubeConfigFromFile(file)).toThrow(/not YAML/);
  });

  it('leaves exec and auth-provider users and proxies to client-node', () => {
    expect(staticKubeConfigFromFile(kubeconfig(dir, { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'aws' } }))).toEqual({ needsClientNode: 'the user runs an exec credential plugin' });
    expect(staticKubeConfigFromFile(kubeconfig(dir, { 'auth-provider': { name: 'oidc' } }))).toEqual({ needsClientNode: 'the user has an auth-provider' });
    expect(staticKubeConfigFromFile(kubeconfig(dir, {}, { server: 'https://a:6443', 'proxy-url': 'http://proxy:3128' }))).toEqual({ needsClientNode: 'the cluster is reached through a proxy' });
  });
});

describe('loadKubeConnection', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kga-connection-'));

  it('uses its own loader for file credentials and client-node KubeConfig for exec plugins', async () => {
    const plain = await loadKubeConnection(kubeconfig(dir, { token: 't' }), {});
    expect(plain?.config).toBeInstanceOf(StaticKubeConfig);
    const exec = await loadKubeConnection(kubeconfig(dir, { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'true' } }), {});
    expect(exec?.config).toBeInstanceOf(KubeConfig);
    expect(exec?.source).toMatch(/client-node: the user runs an exec credential plugin/);
  });

  it('reads $KUBECONFIG (one file itself, several merged by client-node), else nothing outside a pod', async () => {
    const one = kubeconfig(dir, { token: 't' });
    expect((await loadKubeConnection(undefined, { KUBECONFIG: one }))?.config).toBeInstanceOf(StaticKubeConfig);
    const other = path.join(dir, 'other');
    writeFileSync(other, JSON.stringify({ 'current-context': 'o', contexts: [{ name: 'o', context: { cluster: 'oc', user: 'ou' } }], clusters: [{ name: 'oc', cluster: { server: 'https://other:6443' } }], users: [{ name: 'ou', user: {} }] }));
    const merged = await loadKubeConnection(undefined, { KUBECONFIG: `${one}:${other}` });
    expect(merged?.config).toBeInstanceOf(KubeConfig);
    expect(merged?.config.getCurrentCluster()?.server).toBe('https://10.0.0.1:6443');
    // A cluster, user or context name repeated in a later file: the first file's wins, as in kubectl.
    const clash = path.join(dir, 'clash');
    writeFileSync(clash, JSON.stringify({ 'current-context': 'ctx', contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }], clusters: [{ name: 'c', cluster: { server: 'https://later:6443' } }], users: [{ name: 'u', user: { token: 'later' } }] }));
    const clashing = await loadKubeConnection(undefined, { KUBECONFIG: `${one}:${clash}` });
    expect(clashing?.config.getCurrentCluster()?.server).toBe('https://10.0.0.1:6443');
    expect((await loadKubeConnection(undefined, {}))).toBeUndefined();
    // Files that do not exist are skipped, as kubectl skips them; none at all is an error.
    const gone = path.join(dir, 'gone');
    expect((await loadKubeConnection(undefined, { KUBECONFIG: `${gone}:${one}` }))?.config).toBeInstanceOf(StaticKubeConfig);
    await expect(loadKubeConnection(undefined, { KUBECONFIG: gone })).rejects.toThrow(/none of the files in \$KUBECONFIG exists: .*gone/);
  });
});

describe('inClusterConfig', () => {
  it('reads the service account token (re-read, as it rotates) and CA, with an IPv6 host in brackets', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kga-sa-'));
    expect(inClusterConfig({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, dir)).toBeUndefined();
    writeFileSync(path.join(dir, 'token'), 'sa-token\n');
    writeFileSync(path.join(dir, 'ca.crt'), 'CLUSTER CA');
    const config = inClusterConfig({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, dir)!;
    expect(config.getCurrentCluster().server).toBe('https://[fd00::1]:443');
    const options = await httpsOptions(config);
    expect(String(options.ca)).toBe('CLUSTER CA');
    expect((options.headers as Record<string, string>).Authorization).toBe('Bearer sa-token');
    expect(inClusterConfig({}, dir)).toBeUndefined();
  });

  it('keeps the last token when a re-read fails, and says which file it cannot read when there is none', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kga-sa-'));
    const tokenFile = path.join(dir, 'token');
    writeFileSync(tokenFile, 'first\n');
    const config = new StaticKubeConfig({ name: 'c', server: 'https://k:443' }, { tokenFile });
    expect((await httpsOptions(config)).headers).toMatchObject({ Authorization: 'Bearer first' });
    rmSync(tokenFile);
    const realNow = Date.now;
    Date.now = () => realNow() + 61_000;
    try {
      expect((await httpsOptions(config)).headers).toMatchObject({ Authorization: 'Bearer first' });
      writeFileSync(tokenFile, 'rotated\n');
      Date.now = () => realNow() + 122_000;
      expect((await httpsOptions(config)).headers).toMatchObject({ Authorization: 'Bearer rotated' });
    } finally {
      Date.now = realNow;
    }
    const missing = new StaticKubeConfig({ name: 'c', server: 'https://k:443' }, { tokenFile: path.join(dir, 'nope') });
    await expect(httpsOptions(missing)).rejects.toThrow(/cannot read the token file .*nope/);
  });
});
