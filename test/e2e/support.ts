import type { KubeConfig } from '@kubernetes/client-node';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts, generateServingCert, kubeRequest, type ControlPlane, type KubeResponse } from '../../harness/index.ts';
import { parseConfig, ruleSettings } from '../../src/config/config.js';
import type { ProfileName } from '../../src/rules/profiles.js';
import type { RuleSettings } from '../../src/rules/settings.js';
import { REPO } from '../support/cli.js';

/**
 * The settings of a LiveClusterSource that watches grants, GatewayClasses, the
 * profile's parameters kind and labelled Namespaces, and no kind with
 * backendRefs (grant guard off): what these tests look at.
 */
export function viewSettings(profile: ProfileName = 'kgateway-v2.1'): RuleSettings {
  return ruleSettings(parseConfig({ validation: { grantGuard: 'off' } }), profile);
}

export const PATHS = {
  namespaces: '/api/v1/namespaces',
  gatewayClasses: '/apis/gateway.networking.k8s.io/v1/gatewayclasses',
  gateways: (ns: string, version = 'v1') => `/apis/gateway.networking.k8s.io/${version}/namespaces/${ns}/gateways`,
  referenceGrants: (ns: string, version = 'v1beta1') => `/apis/gateway.networking.k8s.io/${version}/namespaces/${ns}/referencegrants`,
  httpListenerPolicies: (ns: string) => `/apis/gateway.kgateway.dev/v1alpha1/namespaces/${ns}/httplistenerpolicies`,
  listenerPolicies: (ns: string) => `/apis/gateway.kgateway.dev/v1alpha1/namespaces/${ns}/listenerpolicies`,
};

export async function create(kc: KubeConfig, collection: string, object: unknown, options: { dryRun?: boolean } = {}): Promise<KubeResponse> {
  return kubeRequest(kc, 'POST', options.dryRun ? `${collection}?dryRun=All` : collection, { body: object });
}

export async function ensureNamespaces(kc: KubeConfig, ...names: string[]): Promise<void> {
  for (const name of names) {
    const res = await create(kc, PATHS.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    if (res.status !== 201 && res.status !== 409) throw new Error(`namespace ${name}: ${res.status} ${res.text}`);
  }
}

/** Polls `probe` until it returns a value, with a bound; returns it with the time it took. */
export async function pollUntil<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000, intervalMs = 20): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined) return { value, ms: performance.now() - started };
    if (performance.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export async function metricValue(metricsUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/**
 * Our server pointed at a port where no API server listens: it must come up,
 * answer, and stay not ready. The harness's startWebhookServer waits for
 * readiness, so this one is spawned by hand.
 */
export async function startUnsyncedServer(cp: ControlPlane): Promise<{ url: string; caPem: string; stop: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'kga-unsynced-'));
  const kubeconfig = join(dir, 'kubeconfig');
  await writeFile(kubeconfig, (await readFile(cp.kubeconfigPath, 'utf8')).replace(cp.server, 'https://127.0.0.1:1'));
  const certs = await generateServingCert({ ips: ['127.0.0.1'] });
  await writeFile(join(dir, 'tls.crt'), certs.certPem);
  await writeFile(join(dir, 'tls.key'), certs.keyPem);
  const [port, metricsPort] = await freePorts(2);
  const child = spawn(process.execPath, [
    join(REPO, 'dist/cli/main.js'), 'serve', '--host', '127.0.0.1', '--port', String(port), '--metrics-port', String(metricsPort),
    '--tls-cert', join(dir, 'tls.crt'), '--tls-key', join(dir, 'tls.key'), '--kubeconfig', kubeconfig,
    // With no profile it would wait for the API server to tell it one.
    '--profile', 'kgateway-v2.1',
  ], { stdio: 'ignore' });
  return {
    url: `https://127.0.0.1:${port}`,
    caPem: certs.caPem,
    stop: async () => {
      await new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
      await rm(dir, { recursive: true, force: true });
    },
  };
}
