// Warn mode for rollouts through the real API server: a policy with an
// ungranted ref is denied in one namespace and admitted with kubectl warnings
// in a namespace labelled kgateway-admission.dev/enforcement=warn; flipping
// the label takes effect through the server's Namespace watch; a target
// Namespace's label has the last word (issue 21 item 2); audit reads the
// label the same way.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENFORCEMENT_LABEL } from '../../src/rules/enforcement.js';
import { backendRef, httpListenerPolicy } from '../support/builders.js';
import { runCli } from '../support/cli.js';
import { kubeRequest, registerWebhooks, requireControlPlane, startControlPlane, startWebhookServer, type ControlPlane, type WebhookServer } from '../../harness/index.ts';
import { create, ensureNamespaces, metricValue, PATHS, pollUntil } from './support.js';

const skip = await requireControlPlane();

// kubectl is not built with the control plane: the kubectl steps run where it
// is on PATH (the same requests also run without it, below).
const kubectlMissing = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore', timeout: 20_000 }).status !== 0;
if (!skip && kubectlMissing && process.env.CI === 'true') throw new Error('kubectl is needed for the warn-mode e2e: it is not on PATH');
if (!skip && kubectlMissing) process.stderr.write('\n!!! SKIPPING the kubectl steps of the warn-mode e2e: kubectl is not on PATH !!!\n\n');

const WARNING = 'admitted in warn mode: no ReferenceGrant allows Service monitoring/otel-collector-collector';

describe.skipIf(skip)('warn mode through a real kube-apiserver', () => {
  let cp: ControlPlane;
  let server: WebhookServer;
  let dir: string;

  const kc = () => cp.kubeConfig;
  const label = (namespace: string, value: string | null) =>
    kubeRequest(kc(), 'PATCH', `${PATHS.namespaces}/${namespace}`, { body: { metadata: { labels: { [ENFORCEMENT_LABEL]: value } } }, contentType: 'application/merge-patch+json' });
  const kubectl = (...args: string[]) => {
    const res = spawnSync('kubectl', ['--kubeconfig', cp.kubeconfigPath, '--cache-dir', join(dir, 'kubectl-cache'), ...args], { encoding: 'utf8', timeout: 60_000 });
    return { code: res.status, stdout: res.stdout, stderr: res.stderr };
  };
  /** What the webhook does now with an ungranted policy in `namespace`, by a dry-run create. */
  const outcomeIn = async (namespace: string): Promise<'denied' | 'warned' | 'other'> => {
    const res = await create(kc(), PATHS.httpListenerPolicies(namespace), httpListenerPolicy({ name: 'probe', namespace }), { dryRun: true });
    if (res.status === 403) return 'denied';
    return res.status === 201 && res.warnings.includes(WARNING) ? 'warned' : 'other';
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kga-enforcement-'));
    cp = await startControlPlane();
    await ensureNamespaces(kc(), 'team-strict', 'team-rollout', 'monitoring');
    // Labelled before the server starts: the first list of Namespaces carries it.
    expect((await label('team-rollout', 'warn')).status).toBe(200);
    server = await startWebhookServer({ kubeconfigPath: cp.kubeconfigPath, extraArgs: ['--profile', 'kgateway-v2.1'] });
    await registerWebhooks(kc(), { url: server.url, caPem: server.caPem, failurePolicy: 'Fail' });
  });

  afterAll(async () => {
    await server?.stop();
    await cp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it.skipIf(kubectlMissing)('kubectl apply: denied in the unlabelled namespace, admitted with a warning per ref in the labelled one', async () => {
    const file = async (name: string, object: unknown) => {
      const path = join(dir, name);
      await writeFile(path, stringify(object));
      return path;
    };
    const strict = kubectl('apply', '-f', await file('strict.yaml', httpListenerPolicy({ name: 'by-kubectl', namespace: 'team-strict' })));
    expect(strict.code, strict.stderr).toBe(1);
    expect(strict.stderr).toContain('denied the request');
    expect(strict.stderr).toContain('Service monitoring/otel-collector-collector');

    const rollout = kubectl(
      'apply',
      '-f',
      await file('rollout.yaml', httpListenerPolicy({ name: 'by-kubectl', namespace: 'team-rollout', tracingRef: backendRef({ name: 'tempo', namespace: 'tracing' }) })),
    );
    expect(rollout.code, rollout.stderr).toBe(0);
    expect(rollout.stdout).toContain('httplistenerpolicy.gateway.kgateway.dev/by-kubectl created');
    expect(rollout.stderr.split('\n').filter((l) => l.startsWith('Warning: '))).toEqual([
      `Warning: ${WARNING}`,
      'Warning: admitted in warn mode: no ReferenceGrant allows Service tracing/tempo',
    ]);
    expect((await kubeRequest(kc(), 'GET', `${PATHS.httpListenerPolicies('team-rollout')}/by-kubectl`)).status).toBe(200);

    // kubectl label flips it, through the server's watch of labelled Namespaces.
    expect(kubectl('label', 'namespace', 'team-strict', `${ENFORCEMENT_LABEL}=warn`).code).toBe(0);
    const flipped = await pollUntil('the label to reach the watch-backed view', async () => ((await outcomeIn('team-strict')) === 'warned' ? true : undefined));
    process.stderr.write(`[e2e] Namespace label reached the view in ${flipped.ms.toFixed(0)} ms\n`);
    const again = kubectl('apply', '-f', join(dir, 'strict.yaml'));
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain(`Warning: ${WARNING}`);
    expect(kubectl('label', 'namespace', 'team-strict', `${ENFORCEMENT_LABEL}-`).code).toBe(0);
    await pollUntil('the label removal to reach the view', async () => ((await outcomeIn('team-strict')) === 'denied' ? true : undefined));
  });

  it('counts decision="warned" and logs the refs as the reason; a denial logs its refs too', async () => {
    const warnedBefore = await metricValue(server.metricsUrl, 'kgateway_admission_requests_total', { decision: 'warned' });
    const warned = await create(kc(), PATHS.httpListenerPolicies('team-rollout'), httpListenerPolicy({ name: 'counted', namespace: 'team-rollout' }));
    expect(warned.status, warned.text).toBe(201);
    expect(warned.warnings).toEqual([WARNING]);
    const denied = await create(kc(), PATHS.httpListenerPolicies('team-strict'), httpListenerPolicy({ name: 'counted', namespace: 'team-strict' }));
    expect(denied.status).toBe(403);
    expect(await metricValue(server.metricsUrl, 'kgateway_admission_requests_total', { endpoint: 'validate', kind: 'HTTPListenerPolicy', decision: 'warned' })).toBe(warnedBefore + 1);
    const reason = 'no ReferenceGrant allows spec.accessLog[0].openTelemetry.grpcService.backendRef -> Service monitoring/otel-collector-collector';
    const { value: lines } = await pollUntil('the decision lines', async () => {
      const found = server
        .logs()
        .split('\n')
        .filter((l) => l.startsWith('{') && l.includes('"name":"counted"'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      return found.length >= 2 ? found : undefined;
    });
    expect(lines.map((l) => [l.namespace, l.decision, l.reason])).toEqual([
      ['team-rollout', 'warned', reason],
      ['team-strict', 'denied', reason],
    ]);
  });

  it('follows the label through the watch: set, changed, removed', async () => {
    await ensureNamespaces(kc(), 'team-flip');
    expect(await outcomeIn('team-flip')).toBe('denied');
    expect((await label('team-flip', 'warn')).status).toBe(200);
    await pollUntil('warn to reach the view', async () => ((await outcomeIn('team-flip')) === 'warned' ? true : undefined));
    expect((await label('team-flip', 'deny')).status).toBe(200);
    await pollUntil('deny to reach the view', async () => ((await outcomeIn('team-flip')) === 'denied' ? true : undefined));
    expect((await label('team-flip', 'warn')).status).toBe(200);
    await pollUntil('warn again', async () => ((await outcomeIn('team-flip')) === 'warned' ? true : undefined));
    // A removed label leaves the selector: the watch sends it as DELETED.
    expect((await label('team-flip', null)).status).toBe(200);
    await pollUntil('the removal to reach the view', async () => ((await outcomeIn('team-flip')) === 'denied' ? true : undefined));
    expect(await metricValue(server.metricsUrl, 'kgateway_admission_watch_errors_total')).toBe(0);
  });

  it("the target's label has the last word: deny from a warn namespace is denied, warn into an unlabelled source's refs is warned", async () => {
    await ensureNamespaces(kc(), 'locked', 'open-target');
    expect((await label('locked', 'deny')).status).toBe(200);
    expect((await label('open-target', 'warn')).status).toBe(200);
    const into = (namespace: string, target: string) =>
      create(kc(), PATHS.httpListenerPolicies(namespace), httpListenerPolicy({ name: `into-${target}`, namespace, otelAccessLogRefs: [backendRef({ namespace: target })] }), { dryRun: true });
    // team-rollout is labelled warn, yet its refs into a namespace labelled deny are denied.
    const locked = await pollUntil('the deny label to reach the view', async () => {
      const res = await into('team-rollout', 'locked');
      return res.status === 403 ? res : undefined;
    });
    expect(locked.value.text).toContain(`Namespace locked has label ${ENFORCEMENT_LABEL}=deny`);
    // team-strict follows the config (deny), but the target's owner chose warn.
    const open = await pollUntil('the warn label to reach the view', async () => {
      const res = await into('team-strict', 'open-target');
      return res.status === 201 ? res : undefined;
    });
    expect(open.value.warnings).toEqual(['admitted in warn mode: no ReferenceGrant allows Service open-target/otel-collector-collector']);
  });

  it("the server's Namespace list is metadata only, of the labelled Namespaces only", async () => {
    const { KubeApi, NAMESPACES, collectionPath } = await import('../../src/kube/kubeApi.js');
    const api = new KubeApi(kc());
    const pages: Record<string, unknown>[] = [];
    await api.listPages(collectionPath(NAMESPACES, 'v1'), (items) => pages.push(...items), { labelSelector: ENFORCEMENT_LABEL, metadataOnly: true });
    expect(pages.map((n) => (n as { metadata: { name: string } }).metadata.name)).toContain('team-rollout');
    expect(pages.map((n) => (n as { metadata: { name: string } }).metadata.name)).not.toContain('monitoring');
    for (const item of pages) {
      expect(item).not.toHaveProperty('spec');
      expect(item).not.toHaveProperty('status');
    }
    const raw = await api.getJson(`${collectionPath(NAMESPACES, 'v1')}?labelSelector=${encodeURIComponent(ENFORCEMENT_LABEL)}`, 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json');
    expect(raw.kind).toBe('PartialObjectMetadataList');
  });

  it('audit reads the labelled Namespaces too: a warned object is a finding, marked warn', async () => {
    const { code, stdout, stderr } = await runCli(['audit', '--kubeconfig', cp.kubeconfigPath, '--profile', 'kgateway-v2.1', '--output', 'json'], { timeoutMs: 60_000 });
    expect(code, stderr).toBe(1);
    const findings = (JSON.parse(stdout).findings as { namespace: string; name: string; enforcement?: string }[])
      .filter((f) => f.name === 'counted' || f.name === 'by-kubectl')
      .map((f) => [f.namespace, f.name, f.enforcement]);
    expect(findings).toContainEqual(['team-rollout', 'counted', 'warn']);
    if (!kubectlMissing) expect(findings).toContainEqual(['team-rollout', 'by-kubectl', 'warn']);
    // The denied 'counted' in team-strict was never stored.
    expect(findings.filter(([namespace]) => namespace === 'team-strict')).toEqual(kubectlMissing ? [] : [['team-strict', 'by-kubectl', 'deny']]);
  });
});
