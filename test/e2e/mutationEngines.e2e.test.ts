// The chart's generated matchConditions and its mutation engines, with the
// real helm and kube-apiserver: the conditions the chart renders are the
// generator's for the same settings; `mutation.engine: policy` renders a
// MutatingAdmissionPolicy that gives the same Gateways as the webhook, and is
// refused for a configuration it cannot carry out.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyClusterObject,
  kubeRequest,
  registerWebhooks,
  requireControlPlane,
  startControlPlane,
  startWebhookServer,
  unregisterWebhooks,
  type ControlPlane,
  type WebhookServer,
} from '../../harness/index.ts';
import { parseConfig, ruleSettings } from '../../src/config/config.js';
import { builtInBackendRefKinds } from '../../src/rules/backendRefKinds.js';
import { WEBHOOK_NAMES, webhookMatchConditions } from '../../src/rules/matchConditions.js';
import { CHART_DIR, helmBinary, renderChart, runHelm, valuesArgs, type KubeObject } from '../chart/support.js';
import { create, ensureNamespaces, pollUntil } from './support.js';

const skip = await requireControlPlane();

const NS = 'engines';
const BY_NAME = { gatewayClassNames: ['agentgateway', 'mine'], gatewayControllerNames: [], classParameters: 'add', parametersRef: { name: 'agentgateway-otel' } };
const POLICY_VALUES = { mutation: { engine: 'policy' }, config: { profile: 'kgateway-v2.1', mutation: BY_NAME } };

const webhooksOf = (objects: KubeObject[]) =>
  new Map(objects.filter((o) => o.kind.endsWith('WebhookConfiguration')).flatMap((o) => (o.webhooks as { name: string; matchConditions?: unknown }[]).map((w) => [w.name, w.matchConditions ?? []] as const)));

const listeners = [{ name: 'http', protocol: 'HTTP', port: 8080 }];
const gw = (name: string, spec: Record<string, unknown> = {}, metadata: Record<string, unknown> = {}, version = 'v1') => ({
  apiVersion: `gateway.networking.k8s.io/${version}`,
  kind: 'Gateway',
  metadata: { name, namespace: NS, ...metadata },
  spec: { gatewayClassName: 'agentgateway', listeners, ...spec },
});

// The fixtures of test/fixtures/admission, and the cases around them.
const FIXTURES = [
  gw('plain'),
  gw('v1beta1', {}, {}, 'v1beta1'),
  gw('second-class-by-name', { gatewayClassName: 'mine' }),
  gw('other-class', { gatewayClassName: 'istio' }),
  gw('infrastructure-labels', { infrastructure: { labels: { team: 'a' }, annotations: { b: 'c' } } }),
  gw('infrastructure-empty', { infrastructure: {} }),
  gw('own-ref', { infrastructure: { parametersRef: { group: 'gateway.kgateway.dev', kind: 'GatewayParameters', name: 'own' } } }),
  gw('opted-out', {}, { annotations: { 'kgateway-admission.dev/skip': 'true' } }),
  gw('opt-out-false', {}, { annotations: { 'kgateway-admission.dev/skip': 'false' } }),
  gw('labelled', {}, { labels: { app: 'x' } }),
];

/** The object as stored, without what differs between two dry-run creates. */
function comparable(object: any): unknown {
  const { uid: _uid, creationTimestamp: _c, managedFields: _m, resourceVersion: _r, generation: _g, ...metadata } = object.metadata;
  return { ...object, metadata };
}

describe.skipIf(skip)('the chart\'s matchConditions and mutation engines (helm + kube-apiserver)', () => {
  let cp: ControlPlane;
  let helm: string;
  let server: WebhookServer | undefined;
  let dir: string;

  beforeAll(async () => {
    [cp, helm] = await Promise.all([startControlPlane(), helmBinary()]);
    await ensureNamespaces(cp.kubeConfig, NS);
    // The webhook adds a ref only to a parameters object that exists in the
    // Gateway's namespace (the deployers refuse one that does not); a native
    // policy cannot look, so the comparison runs where the object is there.
    const params = { apiVersion: 'gateway.kgateway.dev/v1alpha1', kind: 'GatewayParameters', metadata: { name: 'agentgateway-otel', namespace: NS }, spec: { kube: { agentgateway: { enabled: true } } } };
    const created = await create(cp.kubeConfig, `/apis/gateway.kgateway.dev/v1alpha1/namespaces/${NS}/gatewayparameters`, params);
    expect(created.status, created.text).toBe(201);
    dir = await mkdtemp(join(tmpdir(), 'kga-engines-'));
  }, 600_000);

  afterAll(async () => {
    await server?.stop();
    await cp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it.each([
    ['the default values', {}, {}],
    ['classes by name only', { config: { mutation: BY_NAME } }, { mutation: BY_NAME }],
    [
      'kinds that configuration extends',
      { config: { validation: { backendRefKinds: [{ group: 'gateway.kgateway.dev', kind: 'ListenerPolicy', paths: ['spec.extra.backendRef'] }], scanKinds: [{ group: 'example.com', kind: 'Widget' }] } } },
      { validation: { backendRefKinds: [{ group: 'gateway.kgateway.dev', kind: 'ListenerPolicy', paths: ['spec.extra.backendRef'] }], scanKinds: [{ group: 'example.com', kind: 'Widget' }] } },
    ],
  ] as const)('with %s, the chart renders the generator\'s matchConditions for the same settings', async (_label, values, config) => {
    const rendered = webhooksOf(await renderChart(helm, 'kga', 'kga', values as Record<string, unknown>));
    const expected = webhookMatchConditions(ruleSettings(parseConfig(config), 'kgateway-v2.1'), builtInBackendRefKinds);
    for (const [hook, name] of Object.entries(WEBHOOK_NAMES)) expect(rendered.get(name), name).toEqual(expected[hook as keyof typeof WEBHOOK_NAMES]);
  });

  it('engine policy is refused at install when the configuration needs what a native policy cannot do', async () => {
    for (const config of [{}, { mutation: { gatewayControllerNames: [] } }, { mutation: { gatewayControllerNames: [], classParameters: 'skip' } }]) {
      const res = await runHelm(helm, ['template', 'kga', CHART_DIR, ...(await valuesArgs({ mutation: { engine: 'policy' }, config }))]);
      expect(res.code, JSON.stringify(config)).not.toBe(0);
      expect(res.stderr).toMatch(/values don't meet the specifications of the schema/);
    }
  });

  it('engine auto picks policy only where the cluster serves it and the configuration allows it', async () => {
    const kinds = async (values: Record<string, unknown>, extra: string[] = []) => (await renderChart(helm, 'kga', 'kga', values, extra)).map((o) => o.kind);
    const served = ['--api-versions', 'admissionregistration.k8s.io/v1/MutatingAdmissionPolicy'];
    const allowed = { mutation: { engine: 'auto' }, config: { mutation: BY_NAME } };
    expect(await kinds(allowed, served)).toEqual(expect.arrayContaining(['MutatingAdmissionPolicy', 'MutatingAdmissionPolicyBinding']));
    expect(await kinds(allowed, served)).not.toContain('MutatingWebhookConfiguration');
    expect(await kinds(allowed)).toContain('MutatingWebhookConfiguration');
    expect(await kinds({ mutation: { engine: 'auto' } }, served)).not.toContain('MutatingAdmissionPolicy');
  });

  it('the same Gateway fixtures give identical objects with engine webhook and engine policy (real kube-apiserver v1.36)', async () => {
    const kc = cp.kubeConfig;
    const createAll = async () => {
      const out: Record<string, unknown> = {};
      for (const object of FIXTURES) {
        const version = object.apiVersion.split('/')[1];
        const res = await kubeRequest(kc, 'POST', `/apis/gateway.networking.k8s.io/${version}/namespaces/${NS}/gateways?dryRun=All`, { body: object });
        expect(res.status, `${object.metadata.name}: ${res.text}`).toBe(201);
        out[object.metadata.name] = comparable(res.body);
      }
      // An UPDATE: a Gateway stored opted out, then its opt-out removed.
      const stored = await kubeRequest(kc, 'POST', `/apis/gateway.networking.k8s.io/v1/namespaces/${NS}/gateways`, { body: gw(`update-${Date.now()}`, {}, { annotations: { 'kgateway-admission.dev/skip': 'true' } }) });
      expect(stored.status, stored.text).toBe(201);
      const updated = { ...stored.body, metadata: { ...stored.body.metadata, annotations: {} } };
      const res = await kubeRequest(kc, 'PUT', `/apis/gateway.networking.k8s.io/v1/namespaces/${NS}/gateways/${stored.body.metadata.name}?dryRun=All`, { body: updated });
      expect(res.status, res.text).toBe(200);
      out.update = { spec: res.body.spec, annotations: res.body.metadata.annotations ?? {} };
      await kubeRequest(kc, 'DELETE', `/apis/gateway.networking.k8s.io/v1/namespaces/${NS}/gateways/${stored.body.metadata.name}`);
      return out;
    };

    // engine webhook: our server with the same configuration, the generated conditions.
    const configFile = join(dir, 'config.yaml');
    await writeFile(configFile, JSON.stringify({ profile: 'kgateway-v2.1', mutation: BY_NAME }));
    server = await startWebhookServer({ kubeconfigPath: cp.kubeconfigPath, extraArgs: ['--config', configFile] });
    const settings = ruleSettings(parseConfig({ profile: 'kgateway-v2.1', mutation: BY_NAME }));
    await registerWebhooks(kc, { url: server.url, caPem: server.caPem, matchConditions: webhookMatchConditions(settings, builtInBackendRefKinds) });
    const byWebhook = await createAll();
    await unregisterWebhooks(kc);
    await server.stop();
    server = undefined;

    // engine policy: the chart's MutatingAdmissionPolicy and binding, nothing else.
    const rendered = await renderChart(helm, 'kga', 'kga', POLICY_VALUES);
    expect(rendered.map((o) => o.kind)).not.toContain('MutatingWebhookConfiguration');
    const policy = rendered.filter((o) => o.kind === 'MutatingAdmissionPolicy' || o.kind === 'MutatingAdmissionPolicyBinding');
    expect(policy.map((o) => o.kind)).toEqual(['MutatingAdmissionPolicy', 'MutatingAdmissionPolicyBinding']);
    for (const object of policy) await applyClusterObject(kc, object);
    await pollUntil('the MutatingAdmissionPolicy to take effect', async () => {
      const res = await kubeRequest(kc, 'POST', `/apis/gateway.networking.k8s.io/v1/namespaces/${NS}/gateways?dryRun=All`, { body: gw('probe') });
      if (res.status !== 201) throw new Error(`probe: ${res.status} ${res.text}`);
      return res.body.spec.infrastructure?.parametersRef ? true : undefined;
    }, 60_000, 200);
    const byPolicy = await createAll();

    expect(byPolicy).toEqual(byWebhook);
    // And the mutation happened where it should.
    expect((byWebhook.plain as any).spec.infrastructure).toEqual({ parametersRef: { group: 'gateway.kgateway.dev', kind: 'GatewayParameters', name: 'agentgateway-otel' } });
    expect((byWebhook['infrastructure-labels'] as any).spec.infrastructure.labels).toEqual({ team: 'a' });
    expect((byWebhook['other-class'] as any).spec.infrastructure).toBeUndefined();
    expect((byWebhook['own-ref'] as any).spec.infrastructure.parametersRef.name).toBe('own');
    expect((byWebhook.update as any).spec.infrastructure?.parametersRef?.name).toBe('agentgateway-otel');
  });
});
