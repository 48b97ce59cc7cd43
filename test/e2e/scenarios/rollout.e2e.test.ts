// A rolling update of the chart's pods on a real node (kind's or the bare
// one), under a steady load of writes through the API server: `helm upgrade` with a changed value, then
// `kubectl rollout restart`. With 2 replicas, maxUnavailable 0, the
// PodDisruptionBudget and the preStop sleep, the API server always has a
// ready pod to call and no write fails. Figures: docs/real-node.md.
import { beforeAll, describe, expect, it } from 'vitest';
import { kubeRequest } from '../../../harness/index.ts';
import { describeLoad, startWriteLoad, type LoadReport } from '../../support/writeLoad.js';
import { ensureNamespaces } from '../support.js';
import {
  deploymentState,
  helmUpgrade,
  scenarioCluster,
  scenarioTarget,
  pdbState,
  RELEASE,
  RELEASE_NS,
  waitRolledOut,
  watchAvailability,
  webhookPods,
  type ScenarioCluster,
} from './cluster.js';

const target = scenarioTarget('rolling updates under load');
const LOAD_NS = 'rollout-load';
const RATE = 30;

describe.skipIf(target.skip)('a rolling update of the chart on a real node, under load', () => {
  let cluster: ScenarioCluster;

  beforeAll(async () => {
    cluster = await scenarioCluster(target.name);
    await ensureNamespaces(cluster.kc, LOAD_NS);
  }, 2_400_000);

  it('starts with 2 ready replicas and the PodDisruptionBudget (minAvailable 1)', async () => {
    await waitRolledOut(cluster.kc, 120_000);
    const d = await deploymentState(cluster.kc);
    expect(d.replicas).toBe(2);
    const pdb = await pdbState(cluster.kc);
    expect(pdb.minAvailable).toBe(1);
    const { status, body } = await kubeRequest(cluster.kc, 'GET', `/apis/apps/v1/namespaces/${RELEASE_NS}/deployments/${RELEASE}`);
    expect(status).toBe(200);
    expect(body.spec.strategy.rollingUpdate).toEqual({ maxUnavailable: 0, maxSurge: 1 });
  });

  it(`helm upgrade with a changed value, then kubectl rollout restart, under ${RATE} writes/s: 0 failed writes`, async () => {
    const kc = cluster.kc;
    const before = new Set((await webhookPods(kc)).map((p) => p.name));
    const load = startWriteLoad(kc, { namespace: LOAD_NS, ratePerSecond: RATE });
    const availability = watchAvailability(kc);
    let report: LoadReport | undefined;
    try {
      await new Promise((r) => setTimeout(r, 10_000));
      // A changed config value: a new ConfigMap checksum in the pod template rolls the pods.
      const upgrade = await helmUpgrade(cluster, ['config.logLevel=debug']);
      expect(upgrade.code, upgrade.output).toBe(0);
      const upgradeRolledOut = upgrade.ms + (await waitRolledOut(kc));
      const afterUpgrade = await webhookPods(kc);
      expect(afterUpgrade.filter((p) => before.has(p.name))).toEqual([]);
      process.stderr.write(`[e2e] helm upgrade (config.logLevel=debug) rolled 2 pods in ${(upgradeRolledOut / 1000).toFixed(1)} s; ${load.writes} writes, ${load.failures.length} failed so far\n`);

      await new Promise((r) => setTimeout(r, 5_000));
      const beforeRestart = new Set(afterUpgrade.map((p) => p.name));
      const restart = await cluster.kubectl(['-n', RELEASE_NS, 'rollout', 'restart', `deployment/${RELEASE}`]);
      expect(restart.code, restart.output).toBe(0);
      const status = await cluster.kubectl(['-n', RELEASE_NS, 'rollout', 'status', `deployment/${RELEASE}`, '--timeout=5m']);
      expect(status.code, status.output).toBe(0);
      const restartRolledOut = restart.ms + status.ms + (await waitRolledOut(kc));
      const afterRestart = await webhookPods(kc);
      expect(afterRestart.filter((p) => beforeRestart.has(p.name))).toEqual([]);
      process.stderr.write(`[e2e] kubectl rollout restart rolled 2 pods in ${(restartRolledOut / 1000).toFixed(1)} s\n`);
      await new Promise((r) => setTimeout(r, 10_000));
    } finally {
      report = await load.stop();
      const seen = await availability.stop();
      process.stderr.write(describeLoad('rolling update (helm upgrade + rollout restart)', report));
      process.stderr.write(`[e2e] during it: fewest ready endpoints of the Service ${seen.minReadyEndpoints}, most pods ${seen.maxPods} (${seen.samples} samples)\n`);
      expect(seen.minReadyEndpoints).toBeGreaterThanOrEqual(1);
    }
    expect(report.failures, describeLoad('rolling update', report)).toEqual([]);
    expect(report.ratePerSecond).toBeGreaterThanOrEqual(20);
    expect(report.byKind.gateway.writes).toBeGreaterThan(0);
    expect(report.byKind['policy-denied'].writes).toBeGreaterThan(0);
  }, 900_000);

  it('ends with 2 ready replicas of the new template and the PodDisruptionBudget allowing one disruption', async () => {
    const d = await deploymentState(cluster.kc);
    expect(d).toMatchObject({ replicas: 2, ready: 2, updated: 2, available: 2 });
    const pdb = await pdbState(cluster.kc);
    expect(pdb).toEqual({ minAvailable: 1, currentHealthy: 2, disruptionsAllowed: 1 });
    const cm = await kubeRequest(cluster.kc, 'GET', `/api/v1/namespaces/${RELEASE_NS}/configmaps/${RELEASE}`);
    expect(JSON.stringify(cm.body.data)).toContain('logLevel: debug');
  });
});
