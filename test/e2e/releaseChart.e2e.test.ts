// The chart as users install it from a registry: its image defaults to where a
// release pushes it; the chart a release pushes (scripts/release/chart.sh)
// names the pushed image by digest at the release's version; on GKE it can
// create the ResourceQuota that lets system-cluster-critical pods run outside
// kube-system. helm template only (helm built from its Go module); the push
// itself, to a real registry, and the install from it are
// test/e2e/kind/registry.e2e.test.ts.
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHART_DIR, ensureNamespace, find, helmBinary, parseManifests, renderChart, runHelm, serverSideApply, valuesArgs, type KubeObject } from '../chart/support.js';
import { REPO_ROOT, requireControlPlane, startControlPlane } from '../../harness/index.ts';

const execFileP = promisify(execFile);
const APP_VERSION = /^appVersion:\s*"?([^"\n]+)"?/m.exec(await readFile(join(CHART_DIR, 'Chart.yaml'), 'utf8'))?.[1];
const noControlPlane = await requireControlPlane();
const quotas = (objects: KubeObject[]) => objects.filter((o) => o.kind === 'ResourceQuota');

let helm: string;
let work: string;
beforeAll(async () => {
  helm = await helmBinary();
  work = await mkdtemp(join(tmpdir(), 'kga-release-chart-'));
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the chart installed from the registry a release pushes to', () => {
  it('runs the released image by default: ghcr.io/kgateway-admission/kgateway-admission at the chart appVersion', async () => {
    const deployment = find(await renderChart(helm, 'kga', 'kgateway-admission'), 'Deployment');
    expect(deployment.spec.template.spec.containers[0].image).toBe(`ghcr.io/kgateway-admission/kgateway-admission:${APP_VERSION}`);
  });

  it('image.digest wins over the tag; an image built here is image.repository=kgateway-admission', async () => {
    const digest = `sha256:${'b'.repeat(64)}`;
    const pinned = find(await renderChart(helm, 'kga', 'ns', { image: { digest, tag: 'ignored' } }), 'Deployment');
    expect(pinned.spec.template.spec.containers[0].image).toBe(`ghcr.io/kgateway-admission/kgateway-admission@${digest}`);
    const local = find(await renderChart(helm, 'kga', 'ns', { image: { repository: 'kgateway-admission', pullPolicy: 'Never' } }), 'Deployment');
    expect(local.spec.template.spec.containers[0]).toMatchObject({ image: `kgateway-admission:${APP_VERSION}`, imagePullPolicy: 'Never' });
  });

  it('the chart scripts/release/chart.sh pushes names the pushed image by digest, at the release version', async () => {
    // helm itself packages; only `push` is a stand-in that keeps the package and prints a digest as helm does.
    const kept = join(work, 'pushed');
    const wrapper = join(work, 'helm');
    await writeFile(wrapper, `#!/bin/sh
if [ "$1" = push ]; then mkdir -p '${kept}' && cp "$2" '${kept}/' && echo "Pushed: $3" && echo "Digest: sha256:${'c'.repeat(64)}"; exit 0; fi
exec '${helm}' "$@"
`);
    await chmod(wrapper, 0o755);
    const digest = `sha256:${'d'.repeat(64)}`;
    const releaseDir = join(work, 'release');
    const { stdout } = await execFileP('bash', ['scripts/release/chart.sh', 'registry.example:5000/team', 'v7.8.9', digest], {
      cwd: REPO_ROOT, env: { ...process.env, HELM: wrapper, RELEASE_DIR: releaseDir },
    });
    expect(stdout).toBe(`chart: oci://registry.example:5000/team/charts/kgateway-admission\nversion: 7.8.9\ndigest: sha256:${'c'.repeat(64)}\n`);
    expect((await readFile(join(releaseDir, 'chart.ref'), 'utf8')).trim()).toBe(`oci://registry.example:5000/team/charts/kgateway-admission:7.8.9@sha256:${'c'.repeat(64)}`);
    const pkg = join(kept, 'kgateway-admission-7.8.9.tgz');
    const shown = await runHelm(helm, ['show', 'chart', pkg]);
    expect(shown.stdout).toMatch(/^version: 7\.8\.9$/m);
    expect(shown.stdout).toMatch(/^appVersion: 7\.8\.9$/m);
    const rendered = await runHelm(helm, ['template', 'kga', pkg, '--namespace', 'ns']);
    expect(rendered.code, rendered.stderr).toBe(0);
    expect(find(parseManifests(rendered.stdout), 'Deployment').spec.template.spec.containers[0].image).toBe(`registry.example:5000/team/kgateway-admission@${digest}`);
    // Nothing else in values.yaml changed.
    const values = (await runHelm(helm, ['show', 'values', pkg])).stdout;
    const original = await readFile(join(CHART_DIR, 'values.yaml'), 'utf8');
    const changed = values.trimEnd().split('\n').filter((line, i) => line !== original.trimEnd().split('\n')[i]);
    expect(changed).toEqual(['  repository: registry.example:5000/team/kgateway-admission', `  digest: "${digest}"`]);
  });
});

describe('resourceQuota: system-cluster-critical pods outside kube-system (GKE)', () => {
  it('is not created by default', async () => {
    expect(quotas(await renderChart(helm, 'kga', 'kgateway-admission'))).toEqual([]);
  });

  it('resourceQuota.create=true: a ResourceQuota in the release namespace scoped to the pods\' priority class', async () => {
    const [quota, ...more] = quotas(await renderChart(helm, 'kga', 'kgateway-admission', { resourceQuota: { create: true } }));
    expect(more).toEqual([]);
    expect(quota).toMatchObject({
      apiVersion: 'v1',
      metadata: { name: 'kga-kgateway-admission-critical-pods', namespace: 'kgateway-admission' },
      spec: {
        hard: { pods: '10' },
        scopeSelector: { matchExpressions: [{ operator: 'In', scopeName: 'PriorityClass', values: ['system-cluster-critical'] }] },
      },
    });
  });

  it('follows priorityClassName and resourceQuota.pods, and is not made without a priority class', async () => {
    const [quota] = quotas(await renderChart(helm, 'kga', 'ns', { priorityClassName: 'platform-critical', resourceQuota: { create: true, pods: 4 } }));
    expect(quota?.spec).toEqual({ hard: { pods: '4' }, scopeSelector: { matchExpressions: [{ operator: 'In', scopeName: 'PriorityClass', values: ['platform-critical'] }] } });
    expect(quotas(await renderChart(helm, 'kga', 'ns', { priorityClassName: '', resourceQuota: { create: true } }))).toEqual([]);
  });

  it.skipIf(noControlPlane)('kube-apiserver stores it as rendered (server-side apply)', async () => {
    const cp = await startControlPlane();
    try {
      const [quota] = quotas(await renderChart(helm, 'kga', 'kgateway-admission', { resourceQuota: { create: true } }));
      await ensureNamespace(cp.kubeConfig, 'kgateway-admission');
      const stored = await serverSideApply(cp.kubeConfig, quota!, 'kgateway-admission');
      expect(stored.spec).toEqual(quota!.spec);
    } finally {
      await cp.stop();
    }
  }, 600_000);

  it.each([
    [{ resourceQuota: { create: true, pods: 0 } }, "at '/resourceQuota/pods'"],
    [{ resourceQuota: { enabled: true } }, "additional properties 'enabled' not allowed"],
  ])('a wrong value fails: %j', async (values, message) => {
    const res = await runHelm(helm, ['template', 'bad', CHART_DIR, ...(await valuesArgs(values))]);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain(message);
  });
});
