#!/usr/bin/env node
// A local, real Kubernetes API server with our webhook registered, for trying
// things by hand (no kubelet / controllers: objects are stored, nothing runs).
//
//   npm run cluster:up     # etcd + kube-apiserver + CRDs + webhook server, registered
//   npm run cluster:down   # kill everything recorded in .cluster/state.json, remove .cluster/
//
// `up --no-webhook` starts only the control plane. Needs Node 24 (it runs this
// TypeScript as it is) and, for the webhook, a build (`npm run build` -> dist/cli/main.js).
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { WebhookServer } from '../harness/index.ts';

if (Number(process.versions.node.split('.')[0]) < 24) {
  console.error(
    `scripts/cluster.ts needs Node 24 (this is ${process.version}): run it as \`npm run cluster:up\` / \`npm run cluster:down\`, ` +
      'or with node_modules/.bin/node',
  );
  process.exit(2);
}

const { REPO_ROOT, generateServingCert, killPid, pidAlive, registerWebhooks, startControlPlane, startWebhookServer } =
  await import('../harness/index.ts');

/** What `up` wrote to .cluster/state.json, for `down` to stop. */
interface ClusterState {
  startedAt: string;
  server: string;
  kubeconfig: string;
  pids: { etcd?: number | undefined; kubeApiserver?: number | undefined; webhook?: number | undefined };
  logs: Record<string, string>;
  versions: unknown;
  webhook?: { url: string; metricsUrl: string; log: string };
}

const CLUSTER_DIR = path.join(REPO_ROOT, '.cluster');
const STATE_FILE = path.join(CLUSTER_DIR, 'state.json');
const rel = (p: string): string => path.relative(process.cwd(), p) || '.';

function readState(): ClusterState | undefined {
  try {
    return JSON.parse(fs.readFileSync(STATE_FILE, 'utf8')) as ClusterState;
  } catch {
    return undefined;
  }
}

function writeState(state: ClusterState): void {
  fs.mkdirSync(CLUSTER_DIR, { recursive: true });
  fs.writeFileSync(STATE_FILE, JSON.stringify(state, null, 2) + '\n');
}

async function down({ quiet = false }: { quiet?: boolean } = {}): Promise<void> {
  const state = readState();
  const pids: ClusterState['pids'] = state?.pids ?? {};
  // webhook first, then kube-apiserver, then etcd
  for (const name of ['webhook', 'kubeApiserver', 'etcd'] as const) {
    const pid = pids[name];
    if (pid && pidAlive(pid)) {
      await killPid(pid);
      if (!quiet) console.log(`stopped ${name} (pid ${pid})`);
    }
  }
  fs.rmSync(CLUSTER_DIR, { recursive: true, force: true });
  if (!quiet) console.log(`removed ${rel(CLUSTER_DIR)}`);
}

async function up(args: string[]): Promise<number> {
  const withWebhook = !args.includes('--no-webhook');
  const existing = readState();
  if (existing && Object.values(existing.pids ?? {}).some((pid) => pid && pidAlive(pid))) {
    console.error(`a cluster is already up (${rel(STATE_FILE)}); run \`npm run cluster:down\` first`);
    return 1;
  }
  if (existing || fs.existsSync(CLUSTER_DIR)) await down({ quiet: true });

  const entry = path.join(REPO_ROOT, 'dist', 'cli', 'main.js');
  if (withWebhook && !fs.existsSync(entry)) {
    console.error(`${rel(entry)} is missing: run \`npm run build\` first (or \`up --no-webhook\`)`);
    return 1;
  }

  const t0 = Date.now();
  console.log('starting etcd + kube-apiserver and installing CRDs ...');
  const cp = await startControlPlane({ dir: path.join(CLUSTER_DIR, 'controlplane'), detached: true });
  const state: ClusterState = {
    startedAt: new Date().toISOString(),
    server: cp.server,
    kubeconfig: path.join(CLUSTER_DIR, 'kubeconfig'),
    pids: { etcd: cp.pids.etcd, kubeApiserver: cp.pids.kubeApiserver },
    logs: { ...cp.logs },
    versions: cp.versions,
  };
  writeState(state);
  fs.copyFileSync(cp.kubeconfigPath, state.kubeconfig);
  fs.chmodSync(state.kubeconfig, 0o600);
  console.log(
    `kubernetes ${cp.versions.kubernetes} at ${cp.server}: ready in ${(cp.timings.readyMs / 1000).toFixed(1)}s, ` +
      `${cp.crds.crds.length} CRDs established in ${(cp.timings.totalMs / 1000).toFixed(1)}s`,
  );
  for (const s of cp.crds.skipped) console.log(`  skipped ${path.basename(s.file)}: ${s.reason}`);

  if (withWebhook) {
    const certs = await generateServingCert();
    fs.writeFileSync(path.join(CLUSTER_DIR, 'ca.crt'), certs.caPem);
    console.log('starting the webhook server (node dist/cli/main.js serve) ...');
    let webhook: WebhookServer;
    try {
      webhook = await startWebhookServer({
        kubeconfigPath: state.kubeconfig,
        dir: CLUSTER_DIR, // tls.crt, tls.key, ca.crt, webhook.log
        certs,
        detached: true,
        readyTimeoutMs: 60_000,
        // examples/ is the brief's kgateway v2.1 setup (GatewayParameters); the
        // v2.2.0 CRDs installed here would otherwise make serve pick agentgateway-v2.2.
        extraArgs: ['--profile', process.env.KGA_PROFILE ?? 'kgateway-v2.1'],
      });
    } catch (e) {
      console.error(`\nthe webhook server did not become ready: ${(e as Error).message}`);
      console.error(`\nthe control plane is still up (kubeconfig: ${rel(state.kubeconfig)}); \`npm run cluster:down\` stops it`);
      return 1;
    }
    state.pids.webhook = webhook.pid;
    state.webhook = { url: webhook.url, metricsUrl: webhook.metricsUrl, log: webhook.logFile };
    state.logs.webhook = webhook.logFile;
    writeState(state);
    // The same matchConditions as the chart renders for the same settings (src/rules/matchConditions.ts).
    const { parseConfig, ruleSettings } = await import('#dist/config/config.js');
    const { builtInBackendRefKinds } = await import('#dist/rules/backendRefKinds.js');
    const { webhookMatchConditions } = await import('#dist/rules/matchConditions.js');
    const { isProfileName } = await import('#dist/rules/profiles.js');
    const profile = process.env.KGA_PROFILE ?? 'kgateway-v2.1';
    const settings = ruleSettings(parseConfig({}), isProfileName(profile) ? profile : undefined);
    await registerWebhooks(cp.kubeConfig, {
      url: webhook.url,
      caPem: webhook.caPem,
      failurePolicy: 'Fail',
      matchConditions: webhookMatchConditions(settings, builtInBackendRefKinds),
    });
    console.log(`webhook ${webhook.url} registered (/mutate: gateways; /validate: kgateway and agentgateway policies, ReferenceGrant updates and deletions; matchConditions skip what no rule acts on)`);
    console.log(`metrics at ${webhook.metricsUrl}/metrics, log in ${rel(webhook.logFile)}`);
  }

  console.log(`\nup in ${((Date.now() - t0) / 1000).toFixed(1)}s. State: ${rel(STATE_FILE)}`);
  console.log(`  kubectl --kubeconfig ${rel(state.kubeconfig)} apply -f examples/`);
  console.log(`  (kubectl is not part of this project and may not be installed; any Kubernetes client works with that kubeconfig)`);
  console.log(`  there is no kubelet or controller: objects are admitted and stored, nothing runs.`);
  console.log(`  npm run cluster:down   # stop it`);
  return 0;
}

const [cmd, ...rest] = process.argv.slice(2);
let code: number;
if (cmd === 'up') code = await up(rest);
else if (cmd === 'down') code = (await down(), 0);
else {
  console.error('usage: node scripts/cluster.ts up [--no-webhook] | down');
  code = 2;
}
process.exit(code);
