#!/usr/bin/env node
// Records the real controllers' verdicts on our cases (issue 26, item 6):
// kgateway and agentgateway, built by `bash scripts/oracle.sh build`, run one
// after the other (both bind 9092/9093) against the project's test API server
// with the release's CRDs, WITHOUT our webhook on their objects. For each
// grant mode it writes one object per reference site (without a grant, with
// one) and the Gateway cases (parameters object present, missing, no ref),
// waits for the controller's status, and writes
// test/fixtures/oracle/verdicts.json (its type: harness/oracleVerdicts.ts),
// which test/unit/oracle/oracleVerdicts.test.ts compares with our rules.
//
// One Gateway case goes through our webhook: `serve` (dist/, built by
// scripts/oracle.sh) with mutation.copyParameters on, registered for labelled
// team namespaces only, so that the site cases still reach the controllers
// unjudged. A Gateway without a ref is created in a fresh team namespace that
// has no parameters object: our mutation adds the ref, our copier writes the
// copy of the source; then the controller runs, and its verdict and the
// rendered proxy's env are recorded (team-namespace-copy).
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
import type { Condition, GatewayVerdict, OracleController, OracleTable, RecordedObject, SiteVerdict } from '../harness/oracleVerdicts.ts';

if (Number(process.versions.node.split('.')[0]) < 24) {
  console.error(`scripts/oracle-record.ts needs Node 24 (this is ${process.version}): run it through \`npm run oracle\``);
  process.exit(2);
}

const { REPO_ROOT, applyClusterObject, installCrds, kubeRequest, registerWebhooks, startControlPlane, startWebhookServer, unregisterWebhooks, waitForCrdsEstablished, waitForCrdsServing } = await import('../harness/index.ts');
const { ORACLE_VERDICTS_FILE } = await import('../harness/oracleVerdicts.ts');
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
const OUT = process.env.KGA_ORACLE_OUT ?? ORACLE_VERDICTS_FILE;
const VERDICT_TIMEOUT_MS = Number(process.env.KGA_ORACLE_VERDICT_TIMEOUT_MS ?? 90_000);
const log = (m: string) => process.stderr.write(`[oracle] ${m}\n`);

type Controller = OracleController;
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
  build: (name: string, namespace: string, ref: Record<string, unknown>) => RecordedObject;
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

interface ParametersOf {
  group: string;
  kind: string;
  plural: string;
  className: string;
  controllerName: string;
  /** Our profile for this release (src/rules/profiles.ts). */
  profile: string;
  /** The parameters object's spec with OTEL_EXPORTER_OTLP_ENDPOINT set. */
  specWith: (endpoint: string) => Record<string, unknown>;
}

const PARAMETERS: Record<Controller, ParametersOf> = {
  kgateway: {
    group: 'gateway.kgateway.dev',
    kind: 'GatewayParameters',
    plural: 'gatewayparameters',
    className: 'kgateway',
    controllerName: 'kgateway.dev/kgateway',
    profile: 'kgateway-v2.4',
    specWith: (endpoint) => ({ kube: { envoyContainer: { env: [{ name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: endpoint }] } } }),
  },
  agentgateway: {
    group: 'agentgateway.dev',
    kind: 'AgentgatewayParameters',
    plural: 'agentgatewayparameters',
    className: 'agentgateway',
    controllerName: 'agentgateway.dev/agentgateway',
    profile: 'agentgateway-v1',
    specWith: (endpoint) => ({ env: [{ name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: endpoint }] }),
  },
};
/** The env of the parameters object beside the Gateways of each grant mode's namespace. */
const LOCAL_ENDPOINT = 'http://otel-collector.monitoring:4317';
/** The env of the source our copier copies into team namespaces: a different value, so the proxy's env says which object it came from. */
const SOURCE_ENDPOINT = 'http://otel-collector-from-source.monitoring:4317';
/** Where the source lives (our config's mutation.copyParameters.sourceNamespace). */
const SOURCE_NAMESPACE = 'kga-oracle-source';
/** The name of both the per-mode object and the source: the per-mode namespaces then hold an object of the copy's name that we did not make, which the copier leaves alone. */
const PARAMETERS_NAME = 'otel';
/** Only namespaces with this label are sent to our webhook (the site cases must reach the controllers unjudged). */
const TEAM_LABEL = 'kgateway-admission.dev/oracle-team';
const COPY_TIMEOUT_MS = 30_000;

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
  const namespace = (name: string, labels?: Record<string, string>) => ok('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name, ...(labels ? { labels } : {}) } });
  await namespace(SOURCE_NAMESPACE);
  const sites: SiteVerdict[] = [];
  const gateways: GatewayVerdict[] = [];
  try {
    for (const controller of ONLY ? [ONLY] : (['kgateway', 'agentgateway'] as const)) {
      const release = controller === 'kgateway' ? KGATEWAY : AGENTGATEWAY;
      const params = PARAMETERS[controller];
      const system = `${controller}-system`;
      await namespace(system);
      await ok('POST', '/apis/gateway.networking.k8s.io/v1/gatewayclasses', { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: params.className }, spec: { controllerName: params.controllerName } });
      const source: RecordedObject = { apiVersion: `${params.group}/v1alpha1`, kind: params.kind, metadata: { name: PARAMETERS_NAME, namespace: SOURCE_NAMESPACE }, spec: params.specWith(SOURCE_ENDPOINT) };
      await ok('POST', `/apis/${params.group}/v1alpha1/namespaces/${SOURCE_NAMESPACE}/${params.plural}`, source);
      const ours = await startOurWebhook(controller, cp.kubeconfigPath, kc, scratch);
      try {
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
          await ok('POST', paramsUrl, { apiVersion: `${params.group}/v1alpha1`, kind: params.kind, metadata: { name: PARAMETERS_NAME, namespace: ns }, spec: params.specWith(LOCAL_ENDPOINT) });
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
          const gatewayCases: { case: GatewayVerdict['case']; gateway: ReturnType<typeof gatewayOf>; copied?: GatewayVerdict['copied'] }[] = [
            { case: 'parameters-present', gateway: gatewayOf(GW, PARAMETERS_NAME) },
            { case: 'parameters-missing', gateway: gatewayOf('oracle-gw-missing', 'absent') },
            { case: 'no-parameters-ref', gateway: gatewayOf('oracle-gw-plain') },
          ];
          for (const g of gatewayCases) await ok('POST', `/apis/gateway.networking.k8s.io/v1/namespaces/${ns}/gateways`, g.gateway);
          // Through our webhook: a Gateway without a ref in a fresh team namespace with no parameters object.
          const team = `${ns}-team`;
          await namespace(team, { [TEAM_LABEL]: 'true' });
          const sent = { ...gatewayOf('oracle-gw-team'), metadata: { name: 'oracle-gw-team', namespace: team } };
          const admitted = await ok('POST', `/apis/gateway.networking.k8s.io/v1/namespaces/${team}/gateways`, sent);
          if (!admitted.body?.spec?.infrastructure?.parametersRef) throw new Error(`our webhook did not add the parametersRef to ${team}/oracle-gw-team (warnings: ${JSON.stringify(admitted.warnings)})`);
          const copyStarted = Date.now();
          const copy = await pollFor(`our copier's copy in ${team}`, async () => {
            const res = await kubeRequest(kc, 'GET', `/apis/${params.group}/v1alpha1/namespaces/${team}/${params.plural}/${PARAMETERS_NAME}`);
            return res.status === 200 ? res.body : undefined;
          });
          log(`team-namespace-copy: the copy in ${team} ${Date.now() - copyStarted} ms after the Gateway was created`);
          gatewayCases.push({
            case: 'team-namespace-copy',
            gateway: { apiVersion: admitted.body.apiVersion, kind: admitted.body.kind, metadata: { name: 'oracle-gw-team', namespace: team }, spec: admitted.body.spec },
            copied: {
              profile: params.profile,
              webhookConfig: ours.config,
              sent,
              source,
              copy: { apiVersion: copy.apiVersion, kind: copy.kind, metadata: { name: copy.metadata.name, namespace: copy.metadata.namespace, labels: copy.metadata.labels, annotations: copy.metadata.annotations }, spec: copy.spec },
            },
          });
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
            const gatewayUrl = (g: { metadata: { name: string; namespace: string } }) => `/apis/gateway.networking.k8s.io/v1/namespaces/${g.metadata.namespace}/gateways/${g.metadata.name}`;
            // Every object with a verdict, or the time is up (a kind the controller writes no status for stays []).
            for (;;) {
              const siteConditions = await Promise.all(written.map(async (w) => conditionsOf(await read(siteUrl(w)), w.site.kind)));
              const gatewayConditions = await Promise.all(gatewayCases.map(async (g) => conditionsOf(await read(gatewayUrl(g.gateway)), 'Gateway')));
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
              const deployment = await kubeRequest(kc, 'GET', `/apis/apps/v1/namespaces/${g.gateway.metadata.namespace}/deployments/${g.gateway.metadata.name}`);
              gateways.push({
                controller,
                version: release.version,
                grantMode: mode,
                case: g.case,
                gateway: g.gateway,
                conditions: conditionsOf(await read(gatewayUrl(g.gateway)), 'Gateway'),
                deployment:
                  deployment.status === 200
                    ? { containers: (deployment.body.spec.template.spec.containers as any[]).map((c) => ({ name: c.name, env: (c.env ?? []).map((e: any) => ({ name: e.name, ...(e.value !== undefined ? { value: e.value } : {}) })) })) }
                    : null,
                ...(g.copied ? { copied: g.copied } : {}),
              });
            }
            if (child.exitCode !== null) log(`${controller} exited early (${child.exitCode}); see ${logFile}`);
          } finally {
            await stopController(child);
          }
        }
      } finally {
        await ours.stop();
      }
    }
  } finally {
    await cp.stop();
  }
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  const previous = ONLY && fs.existsSync(OUT) ? (JSON.parse(fs.readFileSync(OUT, 'utf8')) as OracleTable) : undefined;
  const kept = <T extends { controller: string }>(list: T[] | undefined) => (list ?? []).filter((x) => x.controller !== ONLY);
  const controllers = ONLY
    ? { ...Object.fromEntries(Object.entries(previous?.controllers ?? {}).filter(([c]) => c !== ONLY)), [ONLY]: (ONLY === 'kgateway' ? KGATEWAY : AGENTGATEWAY).version }
    : { kgateway: KGATEWAY.version, agentgateway: AGENTGATEWAY.version };
  const table: OracleTable = {
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

/**
 * Our server (`serve`, from dist/) with copies on, as the chart runs it, for
 * the team namespaces only: the Gateway mutation and the copier act there,
 * and nothing the controllers judge elsewhere passes through it.
 */
async function startOurWebhook(controller: Controller, kubeconfigPath: string, kc: import('@kubernetes/client-node').KubeConfig, scratch: string): Promise<{ config: Record<string, unknown>; stop: () => Promise<void> }> {
  const params = PARAMETERS[controller];
  const config = {
    profile: params.profile,
    mutation: { gatewayClassNames: [params.className], parametersRef: { name: PARAMETERS_NAME }, copyParameters: { enabled: true, sourceNamespace: SOURCE_NAMESPACE } },
  };
  const configFile = path.join(scratch, `webhook-${controller}.yaml`);
  // JSON is YAML.
  fs.writeFileSync(configFile, JSON.stringify(config));
  const server = await startWebhookServer({ kubeconfigPath, extraArgs: ['--config', configFile] });
  await registerWebhooks(kc, { url: server.url, caPem: server.caPem, failurePolicy: 'Fail', namespaceSelector: { matchLabels: { [TEAM_LABEL]: 'true' } } });
  log(`our webhook (${params.profile}, copies on) serves namespaces labelled ${TEAM_LABEL}`);
  return {
    config,
    stop: async () => {
      await unregisterWebhooks(kc);
      await server.stop();
    },
  };
}

async function pollFor<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() - started > COPY_TIMEOUT_MS) throw new Error(`timed out after ${COPY_TIMEOUT_MS} ms waiting for ${what}`);
    await sleep(50);
  }
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
