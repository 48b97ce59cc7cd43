// `audit --output html --output-file FILE` against a real kube-apiserver, the page rendered
// by headless Chromium: the findings by namespace and rule with their fixes
// are in the rendered text, and loading it asks for nothing but the file
// itself (no external asset).
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gateway, httpListenerPolicy, referenceGrant } from '../support/builders.js';
import { requireChromium } from '../support/chromium.js';
import { runCli } from '../support/cli.js';
import { requireControlPlane, startControlPlane, type ControlPlane } from '../../harness/index.ts';
import { create, ensureNamespaces, PATHS } from './support.js';

const skip = await requireControlPlane();
const browser = skip ? { skip } : await requireChromium();

describe.skipIf(skip ?? browser.skip)('audit --output html, rendered by headless Chromium', () => {
  let cp: ControlPlane;
  let work: string;
  let chrome: Browser;

  beforeAll(async () => {
    cp = await startControlPlane();
    work = await mkdtemp(join(tmpdir(), 'kga-audit-html-'));
    await ensureNamespaces(cp.kubeConfig, 'kgateway', 'team-a', 'monitoring');
    // No webhook here: these are admitted unchecked, as before it was installed.
    for (const [ns, name] of [['kgateway', 'logging-policy'], ['team-a', 'tracing-policy']] as const) {
      expect((await create(cp.kubeConfig, PATHS.httpListenerPolicies(ns), httpListenerPolicy({ name, namespace: ns }))).status).toBe(201);
    }
    expect((await create(cp.kubeConfig, PATHS.gateways('team-a'), gateway({ name: 'ai-gateway', namespace: 'team-a' }))).status).toBe(201);
    // A grant for kgateway only: team-a's policy stays ungranted.
    expect((await create(cp.kubeConfig, PATHS.referenceGrants('monitoring'), referenceGrant({ name: 'from-kgateway' }))).status).toBe(201);
    chrome = await chromium.launch({ executablePath: browser.path!, args: ['--no-sandbox', '--disable-gpu'] });
  });

  afterAll(async () => {
    await chrome?.close();
    await cp?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('shows the findings by namespace and rule with the fix to apply, from one self-contained file', async () => {
    const file = join(work, 'audit.html');
    const res = await runCli(['audit', '--kubeconfig', cp.kubeconfigPath, '--profile', 'kgateway-v2.1', '--output', 'html', '--output-file', file], { timeoutMs: 60_000 });
    expect(res.code, res.stderr).toBe(1);
    // The page goes to the file, the text report to stdout (as for every --output-file).
    expect(res.stdout).toMatch(/\d+ findings? \(/);
    expect((await readFile(file, 'utf8')).startsWith('<!doctype html>')).toBe(true);

    const page = await chrome.newPage({ viewport: { width: 1100, height: 900 } });
    const requested: string[] = [];
    page.on('request', (r) => requested.push(r.url()));
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    expect(requested).toEqual([pathToFileURL(file).href]);

    const text = await page.innerText('body');
    expect(text).toContain('kgateway-admission audit');
    expect(text).toMatch(/2\s*fail/);
    // team-a: its policy has no grant, its Gateway no parametersRef; kgateway's policy is granted.
    expect(text).toContain('Namespace team-a — 2 findings');
    expect(text).not.toContain('Namespace kgateway');
    expect(text).toContain('cross-namespace-backend-refs (1)');
    expect(text).toContain('gateway-parameters-ref (1)');
    expect(text).toContain('HTTPListenerPolicy team-a/tracing-policy — cross-namespace backendRef without a ReferenceGrant');
    expect(text).toContain('spec.accessLog[0].openTelemetry.grpcService.backendRef: Service monitoring/otel-collector-collector');
    // The prose above the block; the block itself is only the YAML to apply.
    expect(text).toMatch(/Fix:\s*Create this ReferenceGrant in namespace monitoring \(kubectl apply -f -\):\s*apiVersion: gateway.networking.k8s.io\/v1beta1/);
    expect(text).toMatch(/kind: ReferenceGrant[\s\S]*namespace: team-a/);
    expect(text).toContain('Gateway team-a/ai-gateway — agentgateway Gateway without its parametersRef');
    expect(text).toContain('Fix: Re-apply the Gateway');
    // The fix YAML is laid out as a block, readable as it will be pasted.
    expect(await page.locator('pre').first().evaluate((el) => (globalThis as unknown as { getComputedStyle(e: unknown): { whiteSpace: string } }).getComputedStyle(el).whiteSpace)).toBe('pre');

    const shot = join(work, 'audit.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect((await stat(shot)).size).toBeGreaterThan(10_000);
    if (process.env.KGA_AUDIT_SCREENSHOT) await page.screenshot({ path: process.env.KGA_AUDIT_SCREENSHOT, fullPage: true });
    await page.close();
  });
});
