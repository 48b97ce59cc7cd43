// Readiness on a real node (kind's or the bare one): a pod enters the Service's endpoints only once its
// watches have synced. The chart is pointed (KUBERNETES_SERVICE_HOST/_PORT) at
// a relay inside the node's network namespace that holds the pods' LIST
// requests: the API server is slow to list for them. The new pod of the
// rolling update runs, answers /healthz, says on /readyz why it is not ready,
// and stays out of the EndpointSlice's ready endpoints (the API server never
// calls it) until the lists are let through; meanwhile the old pods answer
// every write. Figures: docs/real-node.md.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeRequest, REPO_ROOT } from '../../../harness/index.ts';
import { describeLoad, startWriteLoad } from '../../support/writeLoad.js';
import { ensureNamespaces, pollUntil } from '../support.js';
import { helmUpgrade, RELEASE_NS, scenarioCluster, scenarioTarget, serviceEndpoints, waitRolledOut, webhookPods, type ScenarioCluster } from './cluster.js';

const target = scenarioTarget('readiness while the API server is slow to list');
const LOAD_NS = 'readiness-load';
const RELAY_PORT = 16443;
const HOLD_MS = 30_000;

interface RelayEvent {
  event: string;
  from?: string;
  method?: string;
  path?: string;
  held?: boolean;
  count?: number;
}

interface Relay {
  events: RelayEvent[];
  send(command: 'hold' | 'release'): void;
  stop(): Promise<void>;
}

/** The relay in the node's network namespace, on the node's address (where the pods reach it), in front of the node's API server. */
async function startRelay(cluster: ScenarioCluster): Promise<Relay> {
  const { netns, ip, apiServerPki: pki } = cluster.node;
  const child: ChildProcess = spawn('nsenter', [
    `--net=${netns}`, '--', process.execPath, '--no-warnings', join(REPO_ROOT, 'test/support/slowListRelay.ts'),
    '--listen', `${ip}:${RELAY_PORT}`, '--upstream', `https://${ip}:6443`,
    '--cert', pki.cert, '--key', pki.key, '--ca', pki.ca, '--hold',
  ], { stdio: ['pipe', 'pipe', 'pipe'] });
  const events: RelayEvent[] = [];
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  createInterface({ input: child.stdout! }).on('line', (line) => events.push(JSON.parse(line) as RelayEvent));
  await pollUntil(`the relay to listen (${stderr})`, async () => (events.some((e) => e.event === 'listening') ? true : child.exitCode !== null ? Promise.reject(new Error(`relay exited: ${stderr}`)) : undefined), 20_000, 50);
  return {
    events,
    send: (command) => void child.stdin!.write(`${command}\n`),
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.stdin!.end();
      setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
    }),
  };
}

describe.skipIf(target.skip)('readiness of the chart\'s pods on a real node', () => {
  let cluster: ScenarioCluster;
  let relay: Relay | undefined;

  beforeAll(async () => {
    cluster = await scenarioCluster(target.name);
    await ensureNamespaces(cluster.kc, LOAD_NS);
    await waitRolledOut(cluster.kc, 120_000);
  }, 2_400_000);

  afterAll(async () => {
    await relay?.stop();
  }, 300_000);

  it(`a new pod whose lists the API server holds for ${HOLD_MS / 1000} s stays out of the EndpointSlice until they are answered; no write fails`, async () => {
    const kc = cluster.kc;
    relay = await startRelay(cluster);
    const oldPods = new Set((await webhookPods(kc)).map((p) => p.name));
    const load = startWriteLoad(kc, { namespace: LOAD_NS, ratePerSecond: 20 });
    try {
      const upgrade = await helmUpgrade(cluster, [], {
        wait: false,
        setString: ['extraEnv[0].name=KUBERNETES_SERVICE_HOST', `extraEnv[0].value=${cluster.node.ip}`, 'extraEnv[1].name=KUBERNETES_SERVICE_PORT', `extraEnv[1].value=${RELAY_PORT}`],
      });
      expect(upgrade.code, upgrade.output).toBe(0);

      // The surge pod: running, its lists held at the relay.
      const { value: pod } = await pollUntil('the new pod to run with its lists held', async () => {
        const fresh = (await webhookPods(kc)).find((p) => !oldPods.has(p.name) && p.started && p.ip);
        return fresh && relay!.events.some((e) => e.held && e.from?.endsWith(fresh.ip!)) ? fresh : undefined;
      }, 180_000, 250);
      const heldFrom = relay.events.filter((e) => e.held && e.from?.endsWith(pod.ip!)).map((e) => e.path);
      process.stderr.write(`[e2e] ${pod.name} (${pod.ip}) runs; the relay holds its lists: ${heldFrom.join(', ')}\n`);

      const readyz = await kubeRequest(kc, 'GET', `/api/v1/namespaces/${RELEASE_NS}/pods/https:${pod.name}:8443/proxy/readyz`);
      expect(readyz.status, readyz.text).toBe(503);
      process.stderr.write(`[e2e] its /readyz: ${readyz.text}\n`);
      const healthz = await kubeRequest(kc, 'GET', `/api/v1/namespaces/${RELEASE_NS}/pods/https:${pod.name}:8443/proxy/healthz`);
      expect(healthz.status, healthz.text).toBe(200);

      // While the lists are held: never ready, never a ready endpoint.
      const heldUntil = performance.now() + HOLD_MS;
      let samples = 0;
      while (performance.now() < heldUntil) {
        const [pods, endpoints] = await Promise.all([webhookPods(kc), serviceEndpoints(kc)]);
        const now = pods.find((p) => p.name === pod.name);
        expect(now?.ready, `${pod.name} became Ready with its lists held`).toBe(false);
        expect(endpoints.filter((e) => e.ip === pod.ip && e.ready), `${pod.name} is a ready endpoint with its lists held`).toEqual([]);
        expect(endpoints.filter((e) => e.ready).length).toBeGreaterThanOrEqual(2);
        samples++;
        await new Promise((r) => setTimeout(r, 250));
      }
      process.stderr.write(`[e2e] ${samples} samples over ${HOLD_MS / 1000} s: ${pod.name} never ready, never a ready endpoint; the 2 old pods answered\n`);

      const t0 = performance.now();
      relay.send('release');
      await pollUntil(`${pod.name} to become a ready endpoint`, async () => ((await serviceEndpoints(kc)).some((e) => e.ip === pod.ip && e.ready) ? true : undefined), 120_000, 100);
      process.stderr.write(`[e2e] lists released: ${pod.name} a ready endpoint ${((performance.now() - t0) / 1000).toFixed(1)} s later\n`);
      await waitRolledOut(kc);
      // Every new pod went through the relay (the setting reached them).
      for (const p of await webhookPods(kc)) expect(relay.events.some((e) => e.from?.endsWith(p.ip!)), `${p.name} reached the API server through the relay`).toBe(true);
    } finally {
      const report = await load.stop();
      process.stderr.write(describeLoad('readiness with the lists held', report));
      expect(report.failures, describeLoad('readiness', report)).toEqual([]);
    }
  }, 900_000);
});
