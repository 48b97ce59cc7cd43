// A Gateway whose GatewayClass has its own parametersRef, through a real
// kube-apiserver calling the server in process (mutation.classParameters:
// skip leaves it with a warning, add patches it with a warning), and the
// watch following the class when its parametersRef changes.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeApi } from '../../src/kube/kubeApi.js';
import { LiveClusterSource } from '../../src/cluster/liveClusterSource.js';
import { gateway, gatewayClass } from '../support/builders.js';
import { kubeRequest, registerWebhooks, requireControlPlane, startControlPlane, unregisterWebhooks, type ControlPlane } from '../../harness/index.ts';
import { startInProcessWebhook, type InProcessWebhook } from '../support/webhookInProcess.js';
import { create, ensureNamespaces, PATHS, pollUntil, viewSettings } from './support.js';

const skip = await requireControlPlane();

const NAMESPACE = 'class-params';
const OTEL_REF = { group: 'gateway.kgateway.dev', kind: 'GatewayParameters', name: 'agentgateway-otel' };
const CLASS_REF = { group: 'gateway.kgateway.dev', kind: 'GatewayParameters', name: 'class-params', namespace: 'kgateway-system' };
const SKIP_WARNING = "parametersRef not added, could replace GatewayClass team-ai's GatewayParameters kgateway-system/class-params";
const ADD_WARNING = "parametersRef added; it and GatewayClass team-ai's GatewayParameters kgateway-system/class-params both apply";

describe.skipIf(skip)("a Gateway whose GatewayClass has a parametersRef, through a real kube-apiserver", () => {
  let cp: ControlPlane;
  let webhook: InProcessWebhook | undefined;

  beforeAll(async () => {
    cp = await startControlPlane();
    await ensureNamespaces(cp.kubeConfig, NAMESPACE);
    // Our GatewayParameters exists beside the Gateways, so the only warning is the class's.
    const params = { apiVersion: 'gateway.kgateway.dev/v1alpha1', kind: 'GatewayParameters', metadata: { name: 'agentgateway-otel', namespace: NAMESPACE }, spec: { kube: { agentgateway: { enabled: true } } } };
    const created = await create(cp.kubeConfig, `/apis/gateway.kgateway.dev/v1alpha1/namespaces/${NAMESPACE}/gatewayparameters`, params);
    expect(created.status, created.text).toBe(201);
    const cls = await create(cp.kubeConfig, PATHS.gatewayClasses, gatewayClass('team-ai', 'kgateway.dev/agentgateway', CLASS_REF));
    expect(cls.status, cls.text).toBe(201);
  });

  afterAll(async () => {
    await webhook?.server.close();
    await cp?.stop();
  });

  /** The server in process on the live view, registered with the API server, for one classParameters mode. */
  async function serve(classParameters: 'auto' | 'skip' | 'add', profile = 'kgateway-v2.1'): Promise<LiveClusterSource> {
    await webhook?.server.close();
    await unregisterWebhooks(cp.kubeConfig);
    const source = new LiveClusterSource({
      api: new KubeApi(cp.kubeConfig),
      logger: pino({ level: 'silent' }),
      settings: viewSettings(),
    });
    webhook = await startInProcessWebhook({ source, config: { profile, mutation: { classParameters } } });
    await pollUntil('the live view to sync', async () => (source.notReadyReason() === undefined ? true : undefined));
    await registerWebhooks(cp.kubeConfig, { url: webhook.server.url, caPem: webhook.ca, failurePolicy: 'Fail' });
    return source;
  }

  it('skip: the Gateway is created unchanged, and the API server relays the warning naming the class and its ref', async () => {
    const source = await serve('skip');
    expect(source.view.gatewayClassParametersRef('team-ai')).toEqual(CLASS_REF);
    const res = await create(cp.kubeConfig, PATHS.gateways(NAMESPACE), gateway({ name: 'skipped', namespace: NAMESPACE, className: 'team-ai' }));
    expect(res.status, res.text).toBe(201);
    expect(res.body.spec.infrastructure).toBeUndefined();
    expect(res.warnings).toEqual([SKIP_WARNING]);
  });

  it('add: the Gateway gets the parametersRef, with the warning that both apply', async () => {
    await serve('add');
    const res = await create(cp.kubeConfig, PATHS.gateways(NAMESPACE), gateway({ name: 'added', namespace: NAMESPACE, className: 'team-ai' }));
    expect(res.status, res.text).toBe(201);
    expect(res.body.spec.infrastructure).toEqual({ parametersRef: OTEL_REF });
    expect(res.warnings).toEqual([ADD_WARNING]);
  });

  it('auto follows the profile: kgateway-v2.1 skips', async () => {
    await serve('auto');
    const res = await create(cp.kubeConfig, PATHS.gateways(NAMESPACE), gateway({ name: 'auto', namespace: NAMESPACE, className: 'team-ai' }), { dryRun: true });
    expect(res.status, res.text).toBe(201);
    expect(res.body.spec.infrastructure).toBeUndefined();
    expect(res.warnings).toEqual([SKIP_WARNING]);
  });

  it('the watch follows an update of the GatewayClass: without its parametersRef, Gateways are patched again, quietly', async () => {
    const source = await serve('skip');
    const dropped = await kubeRequest(cp.kubeConfig, 'PATCH', `${PATHS.gatewayClasses}/team-ai`, {
      body: { spec: { parametersRef: null } },
      contentType: 'application/merge-patch+json',
    });
    expect(dropped.status, dropped.text).toBe(200);
    const { ms } = await pollUntil('the class update to reach the view', async () => (source.view.gatewayClassParametersRef('team-ai') === undefined ? true : undefined));
    process.stderr.write(`[e2e] GatewayClass parametersRef removal reached the view in ${ms.toFixed(0)} ms\n`);
    const res = await create(cp.kubeConfig, PATHS.gateways(NAMESPACE), gateway({ name: 'after-update', namespace: NAMESPACE, className: 'team-ai' }));
    expect(res.status, res.text).toBe(201);
    expect(res.body.spec.infrastructure).toEqual({ parametersRef: OTEL_REF });
    expect(res.warnings).toEqual([]);

    const other = { ...CLASS_REF, name: 'other-params' };
    const restored = await kubeRequest(cp.kubeConfig, 'PATCH', `${PATHS.gatewayClasses}/team-ai`, {
      body: { spec: { parametersRef: other } },
      contentType: 'application/merge-patch+json',
    });
    expect(restored.status, restored.text).toBe(200);
    await pollUntil('the new parametersRef to reach the view', async () => (source.view.gatewayClassParametersRef('team-ai')?.name === 'other-params' ? true : undefined));
    const again = await create(cp.kubeConfig, PATHS.gateways(NAMESPACE), gateway({ name: 'after-restore', namespace: NAMESPACE, className: 'team-ai' }), { dryRun: true });
    expect(again.body.spec.infrastructure).toBeUndefined();
    expect(again.warnings).toEqual([SKIP_WARNING.replace('class-params', 'other-params')]);
  });
});
