// Helpers of the chart tests: helm (built from its Go module by
// scripts/control-plane.sh, cached with the control plane), rendering,
// server-side apply of any rendered object, extra CRDs from Go modules, and
// kubeconfigs for a ServiceAccount's token.
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import type { KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import {
  buildKubeconfig,
  controlPlanePaths,
  CONTROL_PLANE_SCRIPT,
  kubeRequest,
  REPO_ROOT,
  waitForCrdsEstablished,
  waitForCrdsServing,
  type ControlPlane,
} from '../../harness/index.ts';

const execFileP = promisify(execFile);

export const CHART_DIR = join(REPO_ROOT, 'charts', 'kgateway-admission');
export const CHART_CRDS_MODULE = join(REPO_ROOT, 'test', 'chart', 'crds');
export const FIELD_MANAGER = 'kgateway-admission-chart-test';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  [key: string]: any;
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The helm binary; built (with the control plane's tools) when missing. */
export async function helmBinary(): Promise<string> {
  const { helm } = await controlPlanePaths();
  if (executable(helm)) return helm;
  process.stderr.write(`[chart] ${helm} missing: running bash scripts/control-plane.sh build\n`);
  const code = await new Promise<number>((resolve) => {
    const child = spawn('bash', [CONTROL_PLANE_SCRIPT, 'build'], { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', () => resolve(-1));
    child.on('exit', (c) => resolve(c ?? -1));
  });
  if (code !== 0 || !executable(helm)) throw new Error(`helm could not be built (bash scripts/control-plane.sh build exited ${code})`);
  return helm;
}

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runHelm(helm: string, args: string[], env: Record<string, string> = {}): Promise<HelmResult> {
  try {
    const { stdout, stderr } = await execFileP(helm, args, {
      cwd: REPO_ROOT,
      maxBuffer: 32 << 20,
      timeout: 120_000,
      // helm keeps caches and repositories config under HOME by default: keep them out of the way.
      env: { ...process.env, HELM_CACHE_HOME: join(tmpdir(), 'kga-helm-cache'), HELM_CONFIG_HOME: join(tmpdir(), 'kga-helm-config'), HELM_DATA_HOME: join(tmpdir(), 'kga-helm-data'), ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string; message: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? e.message };
  }
}

/** `--set` style values as helm arguments; objects go through a values file. */
export async function valuesArgs(values: Record<string, unknown>): Promise<string[]> {
  if (Object.keys(values).length === 0) return [];
  const dir = await mkdtemp(join(tmpdir(), 'kga-chart-values-'));
  const file = join(dir, 'values.json');
  await writeFile(file, JSON.stringify(values));
  return ['-f', file];
}

export function parseManifests(text: string): KubeObject[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`rendered YAML: ${doc.errors[0]!.message}`);
      return doc.toJS() as KubeObject | null;
    })
    .filter((o): o is KubeObject => o !== null && typeof o === 'object' && typeof o.kind === 'string');
}

export async function renderChart(
  helm: string,
  release: string,
  namespace: string,
  values: Record<string, unknown> = {},
  extra: string[] = [],
): Promise<KubeObject[]> {
  const res = await runHelm(helm, ['template', release, CHART_DIR, '--namespace', namespace, ...extra, ...(await valuesArgs(values))]);
  if (res.code !== 0) throw new Error(`helm template ${release}: ${res.stderr}`);
  return parseManifests(res.stdout);
}

export function find(objects: KubeObject[], kind: string, name?: string): KubeObject {
  const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (!found) throw new Error(`no ${kind}${name ? ` ${name}` : ''} among ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found;
}

// --- server-side apply of any object, its resource found by discovery -------

type ResourceInfo = { plural: string; namespaced: boolean };
const discovery = new WeakMap<KubeConfig, Map<string, Map<string, ResourceInfo>>>();

async function resourceFor(kc: KubeConfig, apiVersion: string, kind: string): Promise<ResourceInfo> {
  let byVersion = discovery.get(kc);
  if (!byVersion) discovery.set(kc, (byVersion = new Map()));
  let kinds = byVersion.get(apiVersion);
  if (!kinds?.has(kind)) {
    const res = await kubeRequest(kc, 'GET', apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`);
    if (res.status !== 200) throw new Error(`discovery of ${apiVersion}: ${res.status} ${res.text.slice(0, 200)}`);
    kinds = new Map();
    for (const r of res.body.resources as { name: string; kind: string; namespaced: boolean }[]) {
      if (!r.name.includes('/')) kinds.set(r.kind, { plural: r.name, namespaced: r.namespaced });
    }
    byVersion.set(apiVersion, kinds);
  }
  const found = kinds.get(kind);
  if (!found) throw new Error(`the API server does not serve ${kind} in ${apiVersion}`);
  return found;
}

export function objectPath(apiVersion: string, plural: string, namespace: string | undefined, name?: string): string {
  const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  const ns = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${base}${ns}/${plural}${name ? `/${encodeURIComponent(name)}` : ''}`;
}

/** Server-side apply (no dry-run) of one object; resolves to the stored object, rejects with the API server's message. */
export async function serverSideApply(kc: KubeConfig, object: KubeObject, namespace?: string): Promise<KubeObject> {
  const { plural, namespaced } = await resourceFor(kc, object.apiVersion, object.kind);
  const ns = namespaced ? (object.metadata.namespace ?? namespace) : undefined;
  if (namespaced && !ns) throw new Error(`${object.kind}/${object.metadata.name} has no namespace`);
  const res = await kubeRequest(kc, 'PATCH', `${objectPath(object.apiVersion, plural, ns, object.metadata.name)}?fieldManager=${FIELD_MANAGER}&force=true`, {
    body: object,
    contentType: 'application/apply-patch+yaml',
  });
  if (res.status !== 200 && res.status !== 201) {
    throw new Error(`server-side apply of ${object.kind} ${ns ? `${ns}/` : ''}${object.metadata.name}: ${res.status} ${res.body?.message ?? res.text.slice(0, 300)}`);
  }
  return res.body as KubeObject;
}

export async function ensureNamespace(kc: KubeConfig, name: string): Promise<void> {
  await serverSideApply(kc, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
}

// --- extra CRDs (cert-manager, prometheus-operator) from the Go module cache --

function goBinary(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) if (dir && existsSync(join(dir, 'go'))) return join(dir, 'go');
  return existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined;
}

async function moduleDir(module: string): Promise<string> {
  const goMod = await readFile(join(CHART_CRDS_MODULE, 'go.mod'), 'utf8');
  const version = new RegExp(`^\\s*${module.replaceAll('.', '\\.')}\\s+(v\\S+)`, 'm').exec(goMod)?.[1];
  if (!version) throw new Error(`${module} is not pinned in test/chart/crds/go.mod`);
  const go = goBinary();
  if (!go) throw new Error('Go is needed to fetch the chart test CRDs');
  const { stdout } = await execFileP(go, ['mod', 'download', '-json', `${module}@${version}`], {
    cwd: CHART_CRDS_MODULE,
    env: { ...process.env, GOFLAGS: '-mod=mod' },
    maxBuffer: 1 << 20,
    timeout: 300_000,
  });
  return (JSON.parse(stdout) as { Dir: string }).Dir;
}

/** The CRD files the chart's optional objects need: cert-manager Issuer/Certificate, prometheus-operator ServiceMonitor. */
export async function chartCrdFiles(): Promise<string[]> {
  const certManager = await moduleDir('github.com/cert-manager/cert-manager');
  const prometheus = await moduleDir('github.com/prometheus-operator/prometheus-operator');
  return [
    join(certManager, 'deploy', 'crds', 'cert-manager.io_issuers.yaml'),
    join(certManager, 'deploy', 'crds', 'cert-manager.io_clusterissuers.yaml'),
    join(certManager, 'deploy', 'crds', 'cert-manager.io_certificates.yaml'),
    join(prometheus, 'example', 'prometheus-operator-crd', 'monitoring.coreos.com_servicemonitors.yaml'),
  ];
}

/** prometheus-operator's PrometheusRule CRD (monitoring.prometheusRule.enabled). */
export async function prometheusRuleCrdFile(): Promise<string> {
  return join(await moduleDir('github.com/prometheus-operator/prometheus-operator'), 'example', 'prometheus-operator-crd', 'monitoring.coreos.com_prometheusrules.yaml');
}

export async function installCrdFiles(kc: KubeConfig, files: string[]): Promise<string[]> {
  const crds = (await Promise.all(files.map(async (f) => parseManifests(await readFile(f, 'utf8'))))).flat();
  for (const crd of crds) await serverSideApply(kc, crd);
  await waitForCrdsEstablished(kc, crds.map((c) => c.metadata.name));
  await waitForCrdsServing(kc, crds);
  // The API server holds creates for 2 s after a CRD becomes Established.
  await new Promise((r) => setTimeout(r, 2100));
  return crds.map((c) => c.metadata.name);
}

// --- a ServiceAccount's identity ----------------------------------------------

/** A kubeconfig file with a TokenRequest token of the ServiceAccount (what the pod would get). */
export async function serviceAccountKubeconfig(cp: ControlPlane, namespace: string, name: string, dir: string): Promise<string> {
  const res = await kubeRequest(cp.kubeConfig, 'POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, {
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
  });
  if (res.status !== 201) throw new Error(`TokenRequest for ${namespace}/${name}: ${res.status} ${res.text.slice(0, 300)}`);
  const file = join(dir, `kubeconfig-${namespace}-${name}`);
  await writeFile(file, buildKubeconfig({ server: cp.server, caPem: cp.caPem, token: res.body.status.token, user: `system:serviceaccount:${namespace}:${name}` }), { mode: 0o600 });
  return file;
}
