// Part "apiserver": what our webhook adds to a user's write through a real
// kube-apiserver, beside the same Gateway patch done in-process by a
// MutatingAdmissionPolicy (issue 25). Uses the project's control-plane harness
// (harness/index.ts: etcd + kube-apiserver v1.36 + the Gateway API / kgateway
// CRDs) and its webhook launcher (`serve --kubeconfig`, live view).
//
// Gateways (the mutating webhook) and HTTPListenerPolicies (the validating
// webhook) are created one at a time over one keep-alive connection, timed at
// the client, in blocks under three configurations that alternate round by
// round (the order rotates each round, so no configuration always follows
// another on a machine whose neighbours come and go):
//   none     no webhook, no policy registered;
//   webhook  our two webhooks, with the chart's generated matchConditions;
//   floor    the same webhooks pointing at the floor peer instead;
//   policy   the chart's MutatingAdmissionPolicy (mutation.engine: policy),
//            nothing else (a policy create there is a second "none").
// Our server's CPU (utime+stime from /proc, all its threads) is read around
// every block: CPU per admission = (CPU of a webhook block − CPU of the same
// kind's none block of the round) ÷ creates. The none block still costs the
// server its watch events (the live view watches HTTPListenerPolicies for the
// grant guard) and its timers, which are not admission work.
import https from 'node:https';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import * as cp from '../../harness/index.ts';
import { exampleGateway, exampleObject, examplePolicy, type KubeObject } from './bodies.ts';
import { cpuSeconds, startServer } from './servers.ts';
import { log, percentile, round, sleep } from './util.ts';

/** A client with one keep-alive connection to the API server, timing each request. */
export interface Timed {
  status: number;
  body: KubeObject;
  ms: number;
}

export async function makeClient(kubeConfig: KubeConfig): Promise<(method: string, apiPath: string, body?: unknown) => Promise<Timed>> {
  const cluster = kubeConfig.getCurrentCluster()!;
  const opts: https.RequestOptions = {};
  await kubeConfig.applyToHTTPSOptions(opts);
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: opts.ca, cert: opts.cert, key: opts.key });
  return function request(method, apiPath, body) {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string | number> = { ...(opts.headers as Record<string, string> | undefined), accept: 'application/json' };
    if (payload !== undefined) {
      headers['content-type'] = method === 'PATCH' ? 'application/merge-patch+json' : 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    }
    return new Promise<Timed>((resolve, reject) => {
      const started = process.hrtime.bigint();
      const req = https.request(new URL(apiPath, cluster.server), { method, headers, agent, timeout: 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const ms = Number(process.hrtime.bigint() - started) / 1e6;
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: KubeObject;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = { text };
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, ms });
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${apiPath} timed out`)));
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  };
}

export interface LatencyStats {
  n: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
}

export function stats(values: readonly number[]): LatencyStats {
  const s = [...values].sort((a, b) => a - b);
  return { n: s.length, p50_ms: round(percentile(s, 50), 3), p90_ms: round(percentile(s, 90), 3), p99_ms: round(percentile(s, 99), 3) };
}

/** The chart's MutatingAdmissionPolicy and binding (mutation.engine: policy), rendered by helm; or why not. */
export async function chartPolicyObjects(): Promise<KubeObject[] | string> {
  const { helm } = await cp.controlPlanePaths();
  if (!helm) return 'no helm binary';
  const { execFile } = await import('node:child_process');
  const { parseAllDocuments } = await import('yaml');
  const values = JSON.stringify({ mutation: { engine: 'policy' }, config: { profile: 'kgateway-v2.1', mutation: { gatewayClassNames: ['agentgateway'], gatewayControllerNames: [], classParameters: 'add' } } });
  const rendered = await new Promise<string>((resolve, reject) => {
    const child = execFile(helm, ['template', 'kga', 'charts/kgateway-admission', '-f', '-'], { cwd: cp.REPO_ROOT, maxBuffer: 32 << 20 }, (error, stdout, stderr) =>
      error ? reject(new Error(`helm template: ${stderr}`)) : resolve(stdout),
    );
    child.stdin!.end(values);
  });
  const objects = parseAllDocuments(rendered).map((d) => d.toJS()).filter((o) => o?.kind === 'MutatingAdmissionPolicy' || o?.kind === 'MutatingAdmissionPolicyBinding');
  return objects.length === 2 ? objects : `the chart rendered ${objects.length} policy objects`;
}

/** The chart's MutatingAdmissionPolicy and binding, applied; or why not. */
export async function applyChartPolicy(kc: KubeConfig): Promise<true | string> {
  const objects = await chartPolicyObjects();
  if (typeof objects === 'string') return objects;
  for (const object of objects) await cp.applyClusterObject(kc, object);
  return true;
}

/** The generated matchConditions of the chart's default configuration (from dist/, as the rest of the bench). */
export async function chartMatchConditions(): Promise<NonNullable<cp.RegisterWebhooksOptions['matchConditions']>> {
  const [{ parseConfig, ruleSettings }, { builtInBackendRefKinds }, { webhookMatchConditions }] = await Promise.all([
    import('#dist/config/config.js'),
    import('#dist/rules/backendRefKinds.js'),
    import('#dist/rules/matchConditions.js'),
  ]);
  return webhookMatchConditions(ruleSettings(parseConfig({}), 'kgateway-v2.1'), builtInBackendRefKinds);
}

const KINDS = ['gateway', 'policy'] as const;
type Kind = (typeof KINDS)[number];
const KIND_LABEL: Record<Kind, string> = { gateway: 'Gateway', policy: 'HTTPListenerPolicy' };

/**
 * One webhook server measured: the product, another build of it
 * (KGA_BENCH_COMPARE_ENTRY), or the floor (bench/peers/floor-server.ts: reads,
 * JSON.parses, answers with the uid and the same patch; what any Node webhook
 * costs the API server and itself).
 */
interface Measured {
  name: string;
  server: { url: string; caPem: string; pid: number | undefined; stop(): Promise<void> };
}

export interface KindFigures {
  /** Client-side latency of the creates, per configuration. */
  latency: Record<string, LatencyStats>;
  /** Per configuration: p50 and p99 minus the none configuration's (all rounds pooled). */
  added_p50_ms: Record<string, number>;
  added_p99_ms: Record<string, number>;
  /** Per webhook configuration: our server's CPU per admission (block CPU minus the none block's, ÷ creates), µs. */
  cpu_us_per_admission: Record<string, number>;
  /** Our server's CPU per create in the none blocks (watch events, timers), µs. */
  cpu_us_per_create_unadmitted: number;
}

export interface ApiserverFigures {
  kubernetes: string | undefined;
  per_kind: number;
  block: number;
  rounds: number;
  configurations: string[];
  kinds: Record<string, KindFigures>;
  /** Our webhook, both kinds pooled (the targets of older issues). */
  median_added_ms: number;
  p99_added_ms: number;
  loadavg: { start: number[]; end: number[] };
  policy_skipped?: string;
  cpu_profile?: string;
}

export interface ApiserverOptions {
  /** Creates per kind and configuration. */
  perKind: number;
  /** Creates per block. */
  block: number;
  build: boolean;
  /**
   * A second server, measured as configuration "webhook:compare" in the same
   * rounds: another build (its dist/cli/main.js) and/or more `serve` flags.
   */
  compareEntry?: string | undefined;
  compareArgs?: readonly string[];
  /** Run our server under `node --cpu-prof` into this directory (the profile is written when it stops). */
  cpuProfileDir?: string | undefined;
}

/** Figures, or why the part was skipped. */
export async function apiserverPart({ perKind, block, build, compareEntry, compareArgs = [], cpuProfileDir }: ApiserverOptions): Promise<ApiserverFigures | { skipped: string }> {
  const ensured = await cp.ensureControlPlaneBinaries({ build });
  if (!ensured.ok) return { skipped: `${ensured.reason} (build with: ${cp.BUILD_HINT})` };
  const loadStart = (await import('node:os')).loadavg().map((x) => round(x, 2));
  const conditions = await chartMatchConditions();
  const policyObjects = await chartPolicyObjects();

  log('apiserver: starting etcd + kube-apiserver and installing CRDs ...');
  const plane = await cp.startControlPlane({});
  const servers: Measured[] = [];
  try {
    const request = await makeClient(plane.kubeConfig);
    const must = async (method: string, p: string, body?: unknown) => {
      const r = await request(method, p, body);
      if (r.status < 200 || r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${JSON.stringify(r.body).slice(0, 400)}`);
      return r;
    };
    for (const ns of ['kgateway', 'monitoring']) await must('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    await must('POST', '/apis/gateway.networking.k8s.io/v1/gatewayclasses', exampleObject('10-gatewayclass.yaml'));
    await must('POST', '/apis/gateway.kgateway.dev/v1alpha1/namespaces/kgateway/gatewayparameters', exampleObject('20-gatewayparameters.yaml'));
    await must('POST', '/apis/gateway.networking.k8s.io/v1beta1/namespaces/monitoring/referencegrants', exampleObject('30-referencegrant.yaml'));

    const profileEnv = cpuProfileDir ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${cpuProfileDir}` } : undefined;
    // The profile the matchConditions and the chart's policy above are made for.
    const extraArgs = ['--profile', 'kgateway-v2.1'];
    servers.push({ name: 'webhook', server: await cp.startWebhookServer({ kubeconfigPath: plane.kubeconfigPath, extraArgs, ...(profileEnv ? { env: profileEnv } : {}) }) });
    if (compareEntry || compareArgs.length > 0) {
      const entry = compareEntry ? { entry: compareEntry } : {};
      servers.push({ name: 'webhook:compare', server: await cp.startWebhookServer({ kubeconfigPath: plane.kubeconfigPath, extraArgs: [...extraArgs, ...compareArgs], ...entry }) });
    }
    const floorCert = await cp.generateServingCert();
    const floorDir = mkdtempSync(join(tmpdir(), 'kga-bench-floor-'));
    writeFileSync(join(floorDir, 'tls.crt'), floorCert.certPem);
    writeFileSync(join(floorDir, 'tls.key'), floorCert.keyPem);
    const floor = await startServer({ kind: 'floor', name: 'floor', certFile: join(floorDir, 'tls.crt'), keyFile: join(floorDir, 'tls.key') });
    servers.push({ name: 'floor', server: { url: floor.url, caPem: floorCert.caPem, pid: floor.pid, stop: async () => (await floor.stop(), rmSync(floorDir, { recursive: true, force: true })) } });
    log(`apiserver: webhook server${servers.length > 1 ? 's' : ''} (live view) ready: ${servers.map((s) => `${s.name} pid ${s.server.pid}`).join(', ')}`);

    const configurations = ['none', ...servers.map((s) => s.name), ...(typeof policyObjects === 'string' ? [] : ['policy'])];
    let seq = 0;
    const collection = (kind: Kind) =>
      kind === 'gateway' ? '/apis/gateway.networking.k8s.io/v1/namespaces/kgateway/gateways' : '/apis/gateway.kgateway.dev/v1alpha1/namespaces/kgateway/httplistenerpolicies';
    const body = (kind: Kind) => (kind === 'gateway' ? exampleGateway(`bench-gw-${++seq}`, 'kgateway') : examplePolicy(`bench-policy-${++seq}`, 'kgateway'));
    const create = async (kind: Kind, expectMutated: boolean, what: string) => {
      const r = await request('POST', collection(kind), body(kind));
      if (r.status !== 201) throw new Error(`${what}: create answered ${r.status}: ${JSON.stringify(r.body).slice(0, 400)}`);
      if (kind === 'gateway' && Boolean(r.body?.spec?.infrastructure?.parametersRef) !== expectMutated) {
        throw new Error(`${what}: a Gateway was ${expectMutated ? 'not ' : ''}mutated: the registration is not what the bench expects`);
      }
      return r.ms;
    };
    const dryRunMutated = async () => {
      const r = await request('POST', `${collection('gateway')}?dryRun=All`, body('gateway'));
      return r.status === 201 && Boolean(r.body?.spec?.infrastructure?.parametersRef);
    };

    let current = 'none';
    const configure = async (configuration: string) => {
      if (configuration === current) return;
      if (current === 'policy') {
        for (const o of [...(policyObjects as KubeObject[])].reverse()) {
          const plural = o.kind === 'MutatingAdmissionPolicy' ? 'mutatingadmissionpolicies' : 'mutatingadmissionpolicybindings';
          await must('DELETE', `/apis/admissionregistration.k8s.io/v1/${plural}/${o.metadata.name}`);
        }
        // The policy is dropped asynchronously, as it is taken up.
        for (let i = 0; await dryRunMutated(); i++) {
          if (i > 300) throw new Error('the MutatingAdmissionPolicy still applies 30 s after its deletion');
          await sleep(100);
        }
      } else if (current !== 'none') {
        await cp.unregisterWebhooks(plane.kubeConfig);
      }
      if (configuration === 'policy') {
        for (const o of policyObjects as KubeObject[]) await cp.applyClusterObject(plane.kubeConfig, o);
        for (let i = 0; !(await dryRunMutated()); i++) {
          if (i > 300) throw new Error('the MutatingAdmissionPolicy did not take effect in 30 s');
          await sleep(100);
        }
      } else if (configuration !== 'none') {
        const s = servers.find((x) => x.name === configuration)!.server;
        await cp.registerWebhooks(plane.kubeConfig, { url: s.url, caPem: s.caPem, matchConditions: conditions });
      }
      current = configuration;
    };

    const rounds = Math.max(1, Math.ceil(perKind / block));
    const times: Record<Kind, Record<string, number[]>> = { gateway: {}, policy: {} };
    // CPU seconds of each server, per kind and configuration, and the none blocks' (same rounds).
    const cpu: Record<Kind, Record<string, { admitted: number; none: number; creates: number }>> = { gateway: {}, policy: {} };
    const noneCpu: Record<Kind, { seconds: number; creates: number }> = { gateway: { seconds: 0, creates: 0 }, policy: { seconds: 0, creates: 0 } };
    for (const kind of KINDS) for (const c of configurations) times[kind][c] = [];
    for (const kind of KINDS) for (const s of servers) cpu[kind][s.name] = { admitted: 0, none: 0, creates: 0 };

    // Warm-up: every configuration once (the API server's first writes of a kind, its connection to each webhook).
    for (const c of configurations) {
      await configure(c);
      for (const kind of KINDS) for (let i = 0; i < 25; i++) await create(kind, kind === 'gateway' && c !== 'none', `warm-up (${c})`);
    }
    log(`apiserver: ${rounds} rounds of ${block} creates per kind and configuration (${configurations.join(', ')}), ${perKind} per kind and configuration ...`);
    for (let r = 0; r < rounds; r++) {
      const order = configurations.map((_, i) => configurations[(i + r) % configurations.length]!);
      const blockCpu: Record<string, Record<Kind, Record<string, number>>> = {};
      for (const c of order) {
        await configure(c);
        blockCpu[c] = { gateway: {}, policy: {} };
        for (const kind of r % 2 === 0 ? KINDS : [...KINDS].reverse()) {
          const before = servers.map((s) => cpuSeconds(s.server.pid));
          for (let i = 0; i < block; i++) times[kind][c]!.push(await create(kind, kind === 'gateway' && c !== 'none', `round ${r + 1} (${c})`));
          servers.forEach((s, i) => (blockCpu[c]![kind][s.name] = cpuSeconds(s.server.pid) - before[i]!));
        }
      }
      for (const kind of KINDS) {
        for (const s of servers) {
          cpu[kind][s.name]!.admitted += blockCpu[s.name]![kind][s.name]!;
          cpu[kind][s.name]!.none += blockCpu.none![kind][s.name]!;
          cpu[kind][s.name]!.creates += block;
        }
        noneCpu[kind].seconds += blockCpu.none![kind][servers[0]!.name]!;
        noneCpu[kind].creates += block;
      }
      const p50 = (k: Kind, c: string) => round(percentile([...times[k][c]!].sort((a, b) => a - b), 50), 2);
      log(
        `apiserver round ${r + 1}/${rounds}: p50 ms so far ` +
          KINDS.map((k) => `${KIND_LABEL[k]} ${configurations.map((c) => `${c} ${p50(k, c)}`).join(' / ')}`).join('; '),
      );
    }
    await configure('none');

    const kinds: Record<string, KindFigures> = {};
    for (const kind of KINDS) {
      const latency = Object.fromEntries(configurations.map((c) => [c, stats(times[kind][c]!)]));
      const none = latency.none!;
      kinds[KIND_LABEL[kind]] = {
        latency,
        added_p50_ms: Object.fromEntries(configurations.filter((c) => c !== 'none').map((c) => [c, round(latency[c]!.p50_ms - none.p50_ms, 3)])),
        added_p99_ms: Object.fromEntries(configurations.filter((c) => c !== 'none').map((c) => [c, round(latency[c]!.p99_ms - none.p99_ms, 3)])),
        cpu_us_per_admission: Object.fromEntries(servers.map((s) => {
          const x = cpu[kind][s.name]!;
          return [s.name, round(((x.admitted - x.none) / x.creates) * 1e6, 1)];
        })),
        cpu_us_per_create_unadmitted: round((noneCpu[kind].seconds / noneCpu[kind].creates) * 1e6, 1),
      };
    }
    const pooled = (c: string) => stats([...times.gateway[c]!, ...times.policy[c]!]);
    const [ours, none] = [pooled('webhook'), pooled('none')];
    let cpuProfile: string | undefined;
    if (cpuProfileDir) {
      // SIGTERM: serve drains and exits, and --cpu-prof writes its profile.
      const main = servers[0]!.server;
      process.kill(main.pid!, 'SIGTERM');
      for (let i = 0; i < 100 && cp.pidAlive(main.pid!); i++) await sleep(100);
      cpuProfile = readdirSync(cpuProfileDir).filter((f) => f.endsWith('.cpuprofile')).map((f) => `${cpuProfileDir}/${f}`)[0];
    }
    return {
      kubernetes: plane.versions?.kubernetes,
      per_kind: rounds * block,
      block,
      rounds,
      configurations,
      kinds,
      median_added_ms: round(ours.p50_ms - none.p50_ms, 3),
      p99_added_ms: round(ours.p99_ms - none.p99_ms, 3),
      loadavg: { start: loadStart, end: (await import('node:os')).loadavg().map((x) => round(x, 2)) },
      ...(typeof policyObjects === 'string' ? { policy_skipped: policyObjects } : {}),
      ...(cpuProfile ? { cpu_profile: cpuProfile } : {}),
    };
  } finally {
    for (const s of servers) await s.server.stop();
    await plane.stop();
  }
}
