#!/usr/bin/env node
// Records the real controllers' verdicts on our cases (issue 26, item 6):
// kgateway and agentgateway, built by `bash scripts/oracle.sh build`, run one
// after the other (both bind 9092/9093) against the project's test API server
// with the release's CRDs, WITHOUT our webhook. For each grant mode it writes
// one object per reference site (without a grant, with one) and the Gateway
// cases (parameters object present, missing, no ref), waits for the
// controller's status, and writes test/fixtures/oracle/verdicts.json, which
// test/unit/oracle/oracleVerdicts.test.ts compares with our rules.
//
// Run through `bash scripts/oracle.sh record` (it passes the binaries and
// sources in KGA_ORACLE_*). Never part of CI. The API server listens on
// loopback; the controllers' xDS, metrics and health listeners have no bind
// address setting (they listen on every interface of this host); no proxy
// ever connects and the controllers connect to nothing but the API server.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

if (Number(process.versions.node.split('.')[0]) < 24) {
  console.error(`scripts/oracle-record.ts needs Node 24 (this is ${process.version}): run it through \`npm run oracle\``);
  process.exit(2);
}

const { REPO_ROOT, applyClusterObject, installCrds, kubeRequest, startControlPlane, waitForCrdsEstablished, waitForCrdsServing } = await import('../harness/index.ts');
const { parseAllDocuments } = await import('yaml');

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run \`bash scripts/oracle.sh record\``);
  return value;
};

const KGATEWAY = { bin: env('KGA_ORACLE_KGATEWAY_BIN'), version: env('KGA_ORACLE_KGATEWAY_VERSION'), src: env('KGA_ORACLE_KGATEWAY_SRC') };
const AGENTGATEWAY = { bin: env('KGA_ORACLE_AGENTGATEWAY_BIN'), version: env('KGA_ORACLE_AGENTGATEWAY_VERSION'), src: env('KGA_ORACLE_AGENTGATEWAY_SRC') };
// KGA_ORACLE_ONLY=kgateway|agentgateway records one controller and keeps the other's recorded cases.
const ONLY = process.env.KGA_ORACLE_ONLY as 'kgateway' | 'agentgateway' | undefined;
if (ONLY !== undefined && ONLY !== 'kgateway' && ONLY !== 'agentgateway') throw new Error(`KGA_ORACLE_ONLY must be kgateway or agentgateway, not ${ONLY}`);
const GATEWAY_API_VERSION = process.env.KGA_ORACLE_GATEWAY_API_VERSION ?? 'v1.6.1';
const OUT = process.env.KGA_ORACLE_OUT ?? path.join(REPO_ROOT, 'test/fixtures/oracle/verdicts.json');
const VERDICT_TIMEOUT_MS = Number(process.env.KGA_ORACLE_VERDICT_TIMEOUT_MS ?? 90_000);
const log = (m: string) => process.stderr.write(`[oracle] ${m}\n`);

type Controller = 'kgateway' | 'agentgateway';
const GRANT_MODES: Record<Controller, string[]> = {
  kgateway: ['OFF', 'PERMISSIVE', 'STRICT'],
  agentgateway: ['route-and-policy', 'route', 'none'],
};

interface SiteCase {
  id: string;
  controller: Controller;
  group: string;
  kind: string;
  plural: string;
  /** The dotted path of the one backendRef (src/rules/backendRefKinds.ts notation). */
  path: string;
  build: (name: string, namespace: string, ref: Record<string, unknown>) => Record<string, unknown>;
}

const gatewayTarget = (name: string) => [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name }];
const GW = 'oracle-gw';

// One backendRef per object: kgateway reports one verdict per policy.
const SITE_CASES: SiteCase[] = [
  {
    id: 'listenerpolicy-accesslog-otel',
    controller: 'kgateway',
    group: 'gateway.kgateway.dev',
    kind: 'ListenerPolicy',
    plural: 'listenerpolicies',
    path: 'spec.default.httpSettings.accessLog[].openTelemetry.grpcService.backendRef',
    build: (name, namespace, ref) => ({
      apiVersion: 'gateway.kgateway.dev/v1alpha1',
      kind: 'ListenerPolicy',
      metadata: { name, namespace },
      spec: { targetRefs: gatewayTarget(GW), default: { httpSettings: { accessLog: [{ openTelemetry: { grpcService: { backendRef: ref, logName: 'oracle' } } }] } } },
    }),
  },
  {
    id: 'httplistenerpolicy-accesslog-otel',
    controller: 'kgateway',
    group: 'gateway.kgateway.dev',
    kind: 'HTTPListenerPolicy',
    plural: 'httplistenerpolicies',
    path: 'spec.accessLog[].openTelemetry.grpcService.backendRef',
    build: (name, namespace, ref) => ({
      apiVersion: 'gateway.kgateway.dev/v1alpha1',
      kind: 'HTTPListenerPolicy',
      metadata: { name, namespace },
      spec: { targetRefs: gatewayTarget(GW), accessLog: [{ openTelemetry: { grpcService: { backendRef: ref, logName: 'oracle' } } }] },
    }),
  },
  {
    id: 'gatewayextension-extauth-grpc',
    controller: 'kgateway',
    group: 'gateway.kgateway.dev',
    kind: 'GatewayExtension',
    plural: 'gatewayextensions',
    path: 'spec.extAuth.grpcService.backendRef',
    build: (name, namespace, ref) => ({
      apiVersion: 'gateway.kgateway.dev/v1alpha1',
      kind: 'GatewayExtension',
      metadata: { name, namespace },
      spec: { type: 'ExtAuth', extAuth: { grpcService: { backendRef: ref } } },
    }),
  },
  {
    id: 'agentgatewaypolicy-frontend-tracing',
    controller: 'agentgateway',
    group: 'agentgateway.dev',
    kind: 'AgentgatewayPolicy',
    plural: 'agentgatewaypolicies',
    path: 'spec.frontend.tracing.backendRef',
    build: (name, namespace, ref) => ({
      apiVersion: 'agentgateway.dev/v1alpha1',
      kind: 'AgentgatewayPolicy',
      metadata: { name, namespace },
      spec: { targetRefs: gatewayTarget(GW), frontend: { tracing: { backendRef: ref } } },
    }),
  },
  {
    id: 'agentgatewaypolicy-frontend-accesslog-otlp',
    controller: 'agentgateway',
    group: 'agentgateway.dev',
    kind: 'AgentgatewayPolicy',
    plural: 'agentgatewaypolicies',
    path: 'spec.frontend.accessLog.otlp.backendRef',
    build: (name, namespace, ref) => ({
      apiVersion: 'agentgateway.dev/v1alpha1',
      kind: 'AgentgatewayPolicy',
      metadata: { name, namespace },
      spec: { targetRefs: gatewayTarget(GW), frontend: { accessLog: { otlp: { backendRef: ref } } } },
    }),
  },
  {
    id: 'agentgatewaypolicy-traffic-extauth',
    controller: 'agentgateway',
    group: 'agentgateway.dev',
    kind: 'AgentgatewayPolicy',
    plural: 'agentgatewaypolicies',
    path: 'spec.traffic.extAuth.backendRef',
    build: (name, namespace, ref) => ({
      apiVersion: 'agentgateway.dev/v1alpha1',
      kind: 'AgentgatewayPolicy',
      metadata: { name, namespace },
      spec: { targetRefs: gatewayTarget(GW), traffic: { extAuth: { backendRef: ref, grpc: {} } } },
    }),
  },
  {
    id: 'agentgatewaybackend-policies-extauth',
    controller: 'agentgateway',
    group: 'agentgateway.dev',
    kind: 'AgentgatewayBackend',
    plural: 'agentgatewaybackends',
    path: 'spec.policies.extAuth.backendRef',
    build: (name, namespace, ref) => ({
      apiVersion: 'agentgateway.dev/v1alpha1',
      kind: 'AgentgatewayBackend',
      metadata: { name, namespace },
      spec: { static: { host: 'upstream.example', port: 8080 }, policies: { extAuth: { backendRef: ref, grpc: {} } } },
    }),
  },
];

const PARAMETERS: Record<Controller, { group: string; kind: string; plural: string; className: string; controllerName: string; spec: Record<string, unknown> }> = {
  kgateway: {
    group: 'gateway.kgateway.dev',
    kind: 'GatewayParameters',
    plural: 'gatewayparameters',
    className: 'kgateway',
    controllerName: 'kgateway.dev/kgateway',
    spec: { kube: { envoyContainer: { env: [{ name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: 'http://otel-collector.monitoring:4317' }] } } },
  },
  agentgateway: {
    group: 'agentgateway.dev',
    kind: 'AgentgatewayParameters',
    plural: 'agentgatewayparameters',
    className: 'agentgateway',
    controllerName: 'agentgateway.dev/agentgateway',
    spec: { env: [{ name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: 'http://otel-collector.monitoring:4317' }] },
  },
};

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

interface SiteVerdict {
  controller: Controller;
  version: string;
  grantMode: string;
  case: string;
  group: string;
  kind: string;
  path: string;
  grant: boolean;
  object: Record<string, unknown>;
  /** The ReferenceGrant written beside the target, when `grant`. */
  referenceGrant?: Record<string, unknown>;
  /** Conditions the controller wrote (for a policy, those of its ancestor status), or [] when it wrote none in time. */
  conditions: Condition[];
}

interface GatewayVerdict {
  controller: Controller;
  version: string;
  grantMode: string;
  case: 'parameters-present' | 'parameters-missing' | 'no-parameters-ref';
  gateway: Record<string, unknown>;
  conditions: Condition[];
  /** The proxy Deployment the deployer rendered: each container's env, or null when none was rendered. */
  deployment: { containers: { name: string; env: { name: string; value?: string }[] }[] } | null;
}

function sh(file: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  return execFileSync(file, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
}

function goModuleDir(module: string): string {
  // Outside any module: the version asked for, not a go.mod's.
  const out = JSON.parse(sh('go', ['mod', 'download', '-json', module], { cwd: os.tmpdir(), env: { ...process.env, GOFLAGS: '-mod=mod' } })) as { Dir?: string; Error?: string };
  if (!out.Dir) throw new Error(`go mod download ${module}: ${out.Error ?? 'no Dir'}`);
  return out.Dir;
}

/**
 * The chart's CRDs as `helm template` renders them (their descriptions may
 * hold `{{`, which the harness's loader refuses, so they are applied here).
 */
function renderedCrds(chartDir: string): any[] {
  const binDir = path.join(process.env.KGA_TOOLS_DIR ?? path.join(os.homedir(), '.cache/kgateway-admission'), 'bin');
  const helm = fs.existsSync(binDir) ? fs.readdirSync(binDir).find((f) => f.startsWith('helm-v')) : undefined;
  if (!helm) throw new Error(`no helm in ${binDir}: run \`bash scripts/control-plane.sh build\``);
  const text = sh(path.join(binDir, helm), ['template', 'oracle', chartDir]);
  return parseAllDocuments(text)
    .map((d) => d.toJS())
    .filter((o) => o?.kind === 'CustomResourceDefinition');
}

function conditionsOf(object: any, kind: string): Condition[] {
  const status = object?.status ?? {};
  const pick = (list: any[] | undefined): Condition[] =>
    (list ?? []).map((c) => ({ type: c.type, status: c.status, ...(c.reason ? { reason: c.reason } : {}), ...(c.message ? { message: c.message } : {}) }));
  if (Array.isArray(status.ancestors) && status.ancestors.length > 0) return status.ancestors.flatMap((a: any) => pick(a.conditions));
  if (kind === 'Gateway') return pick(status.conditions).filter((c) => c.type === 'Accepted' || c.type === 'Programmed');
  return pick(status.conditions);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'kga-oracle-'));
  const gatewayApi = path.join(goModuleDir(`sigs.k8s.io/gateway-api@${GATEWAY_API_VERSION}`), 'config/crd/experimental');
  const emptyDir = path.join(scratch, 'none');
  fs.mkdirSync(emptyDir);
  const crdDirs = { gatewayApi, kgateway: emptyDir, agentgateway: emptyDir, openreports: emptyDir };
  log(`starting the test API server (CRDs: Gateway API ${GATEWAY_API_VERSION} experimental, kgateway ${KGATEWAY.version}, agentgateway ${AGENTGATEWAY.version})`);
  const cp = await startControlPlane({ installCrds: false });
  const kc = cp.kubeConfig;
  const installed = await installCrds(kc, crdDirs, { includeVap: false });
  if (installed.skipped.length) log(`skipped: ${JSON.stringify(installed.skipped)}`);
  const charts = [...renderedCrds(path.join(KGATEWAY.src, 'install/helm/kgateway-crds')), ...renderedCrds(path.join(AGENTGATEWAY.src, 'controller/install/helm/agentgateway-crds'))];
  for (const crd of charts) await applyClusterObject(kc, crd);
  await waitForCrdsEstablished(kc, charts.map((c) => c.metadata.name));
  await waitForCrdsServing(kc, charts);
  // The API server sleeps 2 s in a create of a custom resource whose CRD is younger than that.
  await sleep(2_100);
  const ok = async (method: string, url: string, body?: unknown) => {
    const res = await kubeRequest(kc, method, url, body === undefined ? {} : { body });
    if (res.status >= 300 && res.status !== 409) throw new Error(`${method} ${url}: ${res.status} ${res.text.slice(0, 500)}`);
    return res;
  };
  const namespace = (name: string) => ok('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  const sites: SiteVerdict[] = [];
  const gateways: GatewayVerdict[] = [];
  try {
    for (const controller of ONLY ? [ONLY] : (['kgateway', 'agentgateway'] as const)) {
      const release = controller === 'kgateway' ? KGATEWAY : AGENTGATEWAY;
      const params = PARAMETERS[controller];
      const system = `${controller}-system`;
      await namespace(system);
      await ok('POST', '/apis/gateway.networking.k8s.io/v1/gatewayclasses', { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: params.className }, spec: { controllerName: params.controllerName } });
      for (const mode of GRANT_MODES[controller]) {
        const ns = `${controller === 'kgateway' ? 'k' : 'a'}-${mode.toLowerCase()}`;
        const targets = `${ns}-t`;
        await namespace(ns);
        await namespace(targets);
        for (const svc of ['collector-nogrant', 'collector-grant']) {
          await ok('POST', `/api/v1/namespaces/${targets}/services`, { apiVersion: 'v1', kind: 'Service', metadata: { name: svc }, spec: { ports: [{ name: 'grpc', port: 4317 }] } });
        }
        // The Gateway the policies target (kgateway writes no status for a policy whose target is missing), with the parameters object present.
        const paramsUrl = `/apis/${params.group}/v1alpha1/namespaces/${ns}/${params.plural}`;
        await ok('POST', paramsUrl, { apiVersion: `${params.group}/v1alpha1`, kind: params.kind, metadata: { name: 'otel', namespace: ns }, spec: params.spec });
        const gatewayOf = (name: string, ref?: string) => ({
          apiVersion: 'gateway.networking.k8s.io/v1',
          kind: 'Gateway',
          metadata: { name, namespace: ns },
          spec: {
            gatewayClassName: params.className,
            listeners: [{ name: 'http', protocol: 'HTTP', port: 8080 }],
            ...(ref ? { infrastructure: { parametersRef: { group: params.group, kind: params.kind, name: ref } } } : {}),
          },
        });
        const gatewayCases = [
          { case: 'parameters-present' as const, gateway: gatewayOf(GW, 'otel') },
          { case: 'parameters-missing' as const, gateway: gatewayOf('oracle-gw-missing', 'absent') },
          { case: 'no-parameters-ref' as const, gateway: gatewayOf('oracle-gw-plain') },
        ];
        for (const g of gatewayCases) await ok('POST', `/apis/gateway.networking.k8s.io/v1/namespaces/${ns}/gateways`, g.gateway);
        const written: { site: SiteCase; grant: boolean; object: Record<string, unknown>; referenceGrant?: Record<string, unknown> }[] = [];
        for (const site of SITE_CASES.filter((s) => s.controller === controller)) {
          for (const grant of [false, true]) {
            const name = `${site.id}-${grant ? 'grant' : 'nogrant'}`.slice(0, 63);
            const object = site.build(name, ns, { name: grant ? 'collector-grant' : 'collector-nogrant', namespace: targets, port: 4317 });
            let referenceGrant: Record<string, unknown> | undefined;
            if (grant) {
              referenceGrant = {
                apiVersion: 'gateway.networking.k8s.io/v1beta1',
                kind: 'ReferenceGrant',
                metadata: { name: `${site.id}`.slice(0, 63), namespace: targets },
                spec: { from: [{ group: site.group, kind: site.kind, namespace: ns }], to: [{ group: '', kind: 'Service', name: 'collector-grant' }] },
              };
              await ok('POST', `/apis/gateway.networking.k8s.io/v1beta1/namespaces/${targets}/referencegrants`, referenceGrant);
            }
            await ok('POST', `/apis/${site.group}/v1alpha1/namespaces/${ns}/${site.plural}`, object);
            written.push({ site, grant, object, ...(referenceGrant ? { referenceGrant } : {}) });
          }
        }

        const logFile = path.join(scratch, `${ns}.log`);
        log(`${controller} ${release.version}, grant mode ${mode}: running (log ${logFile})`);
        const child = startController(controller, release.bin, mode, cp.kubeconfigPath, system, logFile);
        try {
          const started = Date.now();
          const read = async (url: string) => (await kubeRequest(kc, 'GET', url)).body;
          const siteUrl = (w: (typeof written)[number]) => `/apis/${w.site.group}/v1alpha1/namespaces/${ns}/${w.site.plural}/${(w.object.metadata as { name: string }).name}`;
          const gatewayUrl = (name: string) => `/apis/gateway.networking.k8s.io/v1/namespaces/${ns}/gateways/${name}`;
          // Every object with a verdict, or the time is up (a kind the controller writes no status for stays []).
          for (;;) {
            const siteConditions = await Promise.all(written.map(async (w) => conditionsOf(await read(siteUrl(w)), w.site.kind)));
            const gatewayConditions = await Promise.all(gatewayCases.map(async (g) => conditionsOf(await read(gatewayUrl(g.gateway.metadata.name)), 'Gateway')));
            const settled =
              siteConditions.every((c) => c.some((x) => x.type === 'Accepted')) &&
              gatewayConditions.every((c) => c.some((x) => x.type === 'Accepted' && x.reason !== 'Pending'));
            if (settled || Date.now() - started > VERDICT_TIMEOUT_MS || child.exitCode !== null) break;
            await sleep(500);
          }
          // Let a second reconcile land (grants are read after the first translation on a cold start).
          await sleep(3_000);
          for (const w of written) {
            sites.push({
              controller,
              version: release.version,
              grantMode: mode,
              case: w.site.id,
              group: w.site.group,
              kind: w.site.kind,
              path: w.site.path,
              grant: w.grant,
              object: w.object,
              ...(w.referenceGrant ? { referenceGrant: w.referenceGrant } : {}),
              conditions: conditionsOf(await read(siteUrl(w)), w.site.kind),
            });
          }
          for (const g of gatewayCases) {
            const deployment = await kubeRequest(kc, 'GET', `/apis/apps/v1/namespaces/${ns}/deployments/${g.gateway.metadata.name}`);
            gateways.push({
              controller,
              version: release.version,
              grantMode: mode,
              case: g.case,
              gateway: g.gateway,
              conditions: conditionsOf(await read(gatewayUrl(g.gateway.metadata.name)), 'Gateway'),
              deployment:
                deployment.status === 200
                  ? { containers: (deployment.body.spec.template.spec.containers as any[]).map((c) => ({ name: c.name, env: (c.env ?? []).map((e: any) => ({ name: e.name, ...(e.value !== undefined ? { value: e.value } : {}) })) })) }
                  : null,
            });
          }
          if (child.exitCode !== null) log(`${controller} exited early (${child.exitCode}); see ${logFile}`);
        } finally {
          await stopController(child);
        }
      }
    }
  } finally {
    await cp.stop();
  }
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  const previous = ONLY && fs.existsSync(OUT) ? (JSON.parse(fs.readFileSync(OUT, 'utf8')) as { controllers: Record<string, string>; sites: SiteVerdict[]; gateways: GatewayVerdict[] }) : undefined;
  const kept = <T extends { controller: string }>(list: T[] | undefined) => (list ?? []).filter((x) => x.controller !== ONLY);
  const controllers = ONLY
    ? { ...Object.fromEntries(Object.entries(previous?.controllers ?? {}).filter(([c]) => c !== ONLY)), [ONLY]: (ONLY === 'kgateway' ? KGATEWAY : AGENTGATEWAY).version }
    : { kgateway: KGATEWAY.version, agentgateway: AGENTGATEWAY.version };
  const table = {
    recordedBy: 'bash scripts/oracle.sh record (scripts/oracle-record.ts)',
    recordedAt: new Date().toISOString().slice(0, 10),
    controllers,
    gatewayApi: GATEWAY_API_VERSION,
    sites: [...kept(previous?.sites), ...sites],
    gateways: [...kept(previous?.gateways), ...gateways],
  };
  fs.writeFileSync(OUT, `${JSON.stringify(table, null, 1)}\n`);
  log(`wrote ${path.relative(REPO_ROOT, OUT)}: ${sites.length} site cases, ${gateways.length} Gateway cases`);
}

function startController(controller: Controller, bin: string, mode: string, kubeconfig: string, podNamespace: string, logFile: string): ChildProcess {
  const out = fs.openSync(logFile, 'w');
  const settings =
    controller === 'kgateway'
      ? { KGW_DISABLE_LEADER_ELECTION: 'true', KGW_REFERENCE_GRANT_MODE: mode }
      : { AGW_DISABLE_LEADER_ELECTION: 'true', AGW_BACKEND_REF_GRANT_MODE: mode };
  return spawn(bin, [], {
    // Only what it needs: no proxy settings, no cloud credentials.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir(), KUBECONFIG: kubeconfig, POD_NAMESPACE: podNamespace, POD_NAME: `${controller}-oracle`, ...settings },
    stdio: ['ignore', out, out],
  });
}

async function stopController(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
  // The next controller binds the same ports.
  await sleep(1_000);
}

await main();
