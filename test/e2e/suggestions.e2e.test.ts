// The ReferenceGrants a denial suggests, pasted into the real `kubectl apply
// -f -` against the real kube-apiserver with the webhook registered: they
// admit the denied policies, take no entry from any grant, and read back as
// written even for names that YAML 1.1 takes for bools, nulls and numbers.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectlYaml } from '../../src/rules/kubectlYaml.js';
import type { KubeObject } from '../../src/rules/types.js';
import { backendRef, httpListenerPolicy, referenceGrant } from '../support/builders.js';
import { kubeRequest, registerWebhooks, requireControlPlane, startControlPlane, startWebhookServer, type ControlPlane, type WebhookServer } from '../../harness/index.ts';
import { GO_ONLY_NON_STRINGS, YAML_11_NON_STRINGS } from '../support/yaml11Words.js';
import { create, ensureNamespaces, PATHS, pollUntil } from './support.js';

const skip = await requireControlPlane();
const KUBECTL = process.env.KUBECTL ?? 'kubectl';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], stdin: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

const kubectlMissing = await run(KUBECTL, ['version', '--client'], '').then(
  (r) => (r.code === 0 ? undefined : `${KUBECTL} version --client exited ${r.code}: ${r.stderr}`),
  (error: Error) => `${KUBECTL} cannot run: ${error.message}`,
);
if (kubectlMissing && process.env.CI === 'true') throw new Error(`kubectl is needed for these tests: ${kubectlMissing}`);
if (kubectlMissing) process.stderr.write(`\n!!! SKIPPING kubectl tests: ${kubectlMissing} (set KUBECTL to a kubectl binary) !!!\n\n`);

/** The YAML of a denial message, from its first `apiVersion:` line on, as a person copies it. */
function yamlOf(message: string): string {
  const start = message.search(/^apiVersion:/m);
  expect(start, message).toBeGreaterThan(0);
  return `${message.slice(start)}\n`;
}

type Entries = { from: unknown[]; to: unknown[] };

describe.skipIf(skip || kubectlMissing)('suggested ReferenceGrants, applied with kubectl', () => {
  let cp: ControlPlane;
  let server: WebhookServer;
  const kc = () => cp.kubeConfig;
  const kubectl = (args: string[], stdin = '') => run(KUBECTL, ['--kubeconfig', cp.kubeconfigPath, ...args], stdin);

  async function grantsIn(namespace: string): Promise<Map<string, Entries>> {
    const list = await kubeRequest(kc(), 'GET', PATHS.referenceGrants(namespace));
    expect(list.status, list.text).toBe(200);
    return new Map((list.body.items as KubeObject[]).map((g) => [g.metadata!.name!, g.spec as Entries]));
  }

  /** Every grant of `before` still there, with every one of its from and to entries. */
  function expectNothingTaken(before: Map<string, Entries>, after: Map<string, Entries>): void {
    for (const [name, entries] of before) {
      const now = after.get(name);
      expect(now, `grant ${name} is gone`).toBeDefined();
      for (const entry of entries.from) expect(now!.from, `grant ${name} lost a from entry`).toContainEqual(entry);
      for (const entry of entries.to) expect(now!.to, `grant ${name} lost a to entry`).toContainEqual(entry);
    }
  }

  beforeAll(async () => {
    cp = await startControlPlane();
    await ensureNamespaces(cp.kubeConfig, 'kgateway', 'monitoring', 'off', '1234', 'no');
    server = await startWebhookServer({ kubeconfigPath: cp.kubeconfigPath, extraArgs: ['--profile', 'kgateway-v2.1'] });
    await registerWebhooks(cp.kubeConfig, { url: server.url, caPem: server.caPem, failurePolicy: 'Fail' });
  });

  afterAll(async () => {
    await server?.stop();
    await cp?.stop();
  });

  it('two policies denied for two Services of one namespace: each suggestion applied in turn admits both, and no grant loses an entry', async () => {
    // A grant under the one name per referrer that earlier releases suggested, for a third Service, and a policy that relies on it.
    const earlier = referenceGrant({ name: 'allow-httplistenerpolicy-from-kgateway', to: [{ name: 'otel-collector-collector' }] });
    expect((await create(kc(), PATHS.referenceGrants('monitoring'), earlier)).status).toBe(201);
    const collector = httpListenerPolicy({ name: 'collector' });
    const admitted = await pollUntil('the earlier grant to admit its policy', async () => {
      const res = await create(kc(), PATHS.httpListenerPolicies('kgateway'), collector);
      return res.status === 201 ? res : undefined;
    });
    expect(admitted.value.status).toBe(201);

    const logs = httpListenerPolicy({ name: 'logs', otelAccessLogRefs: [backendRef({ name: 'otel-logs' })] });
    const traces = httpListenerPolicy({ name: 'traces', otelAccessLogRefs: [], tracingRef: backendRef({ name: 'otel-traces' }) });
    const suggestions: string[] = [];
    for (const policy of [logs, traces]) {
      const denied = await create(kc(), PATHS.httpListenerPolicies('kgateway'), policy);
      expect(denied.status, denied.text).toBe(403);
      suggestions.push(yamlOf(denied.body.message));
    }
    const before = await grantsIn('monitoring');

    // The second policy's first, then the first's, then the second's again.
    for (const yaml of [suggestions[1]!, suggestions[0]!, suggestions[1]!]) {
      const applied = await kubectl(['apply', '-f', '-'], yaml);
      expect(applied.code, applied.stderr).toBe(0);
      // Created, or unchanged when applied again: never `configured`, i.e. no grant already there is rewritten.
      expect(applied.stdout).toMatch(/^referencegrant\.gateway\.networking\.k8s\.io\/\S+ (created|unchanged)\n$/);
      // The grant guard has nothing to say: no permission in use went away.
      expect(applied.stderr).not.toContain('Warning');
    }

    for (const policy of [logs, traces]) {
      const res = await create(kc(), PATHS.httpListenerPolicies('kgateway'), policy);
      expect(res.status, res.text).toBe(201);
    }
    const after = await grantsIn('monitoring');
    expectNothingTaken(before, after);
    expect(after.size).toBe(before.size + 2);
    expect(after.get('allow-httplistenerpolicy-from-kgateway')).toEqual(earlier.spec);
  });

  it('namespaces and Services named off, 1234, no, on, yes, null, y: the suggestion applies with kubectl and admits the policy', async () => {
    const policy = httpListenerPolicy({
      name: 'yaml-names',
      namespace: 'off',
      otelAccessLogRefs: [
        backendRef({ name: 'on', namespace: '1234' }),
        backendRef({ name: 'yes', namespace: 'no' }),
        backendRef({ name: 'null', namespace: '1234' }),
        backendRef({ name: 'y', namespace: '1234' }),
      ],
    });
    const denied = await create(kc(), PATHS.httpListenerPolicies('off'), policy);
    expect(denied.status, denied.text).toBe(403);
    const applied = await kubectl(['apply', '-f', '-'], yamlOf(denied.body.message));
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout.match(/ created$/gm)).toHaveLength(4);

    const stored: { namespace: string; from: unknown[]; to: unknown[] }[] = [];
    for (const namespace of ['1234', 'no']) for (const entries of (await grantsIn(namespace)).values()) stored.push({ namespace, ...entries });
    const from = [{ group: 'gateway.kgateway.dev', kind: 'HTTPListenerPolicy', namespace: 'off' }];
    expect(stored).toHaveLength(4);
    expect(stored).toEqual(
      expect.arrayContaining([
        { namespace: '1234', from, to: [{ group: '', kind: 'Service', name: 'on' }] },
        { namespace: 'no', from, to: [{ group: '', kind: 'Service', name: 'yes' }] },
        { namespace: '1234', from, to: [{ group: '', kind: 'Service', name: 'null' }] },
        { namespace: '1234', from, to: [{ group: '', kind: 'Service', name: 'y' }] },
      ]),
    );
    const res = await create(kc(), PATHS.httpListenerPolicies('off'), policy);
    expect(res.status, res.text).toBe(201);
  });

  it('kubectl reads every YAML 1.1 bool, null, number and timestamp form, and Go number form, back as the string written', async () => {
    // Where the CRD lets a field hold the word: to.name any string, from.namespace a DNS label, kind a CamelCase name, group a DNS subdomain.
    const words = [...YAML_11_NON_STRINGS, ...GO_ONLY_NON_STRINGS].filter((w) => w !== '');
    const grants = words.map((word, i) => ({
      apiVersion: 'gateway.networking.k8s.io/v1beta1',
      kind: 'ReferenceGrant',
      metadata: { name: `word-${i}`, namespace: 'monitoring' },
      spec: {
        from: [{ group: '', kind: /^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/.test(word) ? word : 'Service', namespace: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(word) ? word : 'kgateway' }],
        to: [{ group: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(word) ? word : '', kind: 'Service', name: word }],
      },
    }));
    const applied = await kubectl(['apply', '--dry-run=server', '-o', 'json', '-f', '-'], grants.map((g) => kubectlYaml(g)).join('---\n'));
    expect(applied.code, applied.stderr).toBe(0);
    const items = (JSON.parse(applied.stdout) as { items: KubeObject[] }).items;
    expect(items.map((g) => g.spec)).toEqual(grants.map((g) => g.spec));
  });
});
