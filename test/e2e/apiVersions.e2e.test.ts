// A kgateway release that drops v1alpha1: with webhook rules naming
// v1alpha1 the real kube-apiserver no longer calls the webhook and a policy
// with an ungranted cross-namespace ref is admitted unchecked; with the
// chart's rules (apiVersions: ["*"]) the webhook is called at the new version
// and denies what it cannot read, saying so.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { find, helmBinary, renderChart } from '../chart/support.js';
import { backendRef, httpListenerPolicy } from '../support/builders.js';
import {
  applyClusterObject,
  kubeRequest,
  requireControlPlane,
  startControlPlane,
  startWebhookServer,
  waitForCrdsEstablished,
  waitForCrdsServing,
  type ControlPlane,
  type WebhookServer,
} from '../../harness/index.ts';
import { create, ensureNamespaces, pollUntil } from './support.js';

const skip = await requireControlPlane();
const NAME = 'kga-versions';

/**
 * HTTPListenerPolicy as a later release might define it: v1alpha1 gone, v1alpha2
 * the only version. (While v1alpha1 is still listed, even unserved, the API
 * server's matchPolicy: Equivalent still converts a v1alpha2 request to it and
 * calls the webhook: the gap opens when the version leaves the CRD.)
 */
const CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'httplistenerpolicies.gateway.kgateway.dev' },
  spec: {
    group: 'gateway.kgateway.dev',
    names: { kind: 'HTTPListenerPolicy', listKind: 'HTTPListenerPolicyList', plural: 'httplistenerpolicies', singular: 'httplistenerpolicy' },
    scope: 'Namespaced',
    versions: [{ name: 'v1alpha2', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
  },
};
const collection = '/apis/gateway.kgateway.dev/v1alpha2/namespaces/kgateway/httplistenerpolicies';

describe.skipIf(skip)('API versions the rules do not know, through a real kube-apiserver', () => {
  let cp: ControlPlane;
  let server: WebhookServer;
  let chartRules: unknown[];

  beforeAll(async () => {
    const helm = await helmBinary();
    const rendered = await renderChart(helm, 'v', 'kga-v');
    chartRules = find(rendered, 'ValidatingWebhookConfiguration').webhooks[0].rules;
    cp = await startControlPlane({ installCrds: false });
    await applyClusterObject(cp.kubeConfig, CRD);
    await waitForCrdsEstablished(cp.kubeConfig, [CRD.metadata.name]);
    await waitForCrdsServing(cp.kubeConfig, [CRD]);
    await ensureNamespaces(cp.kubeConfig, 'kgateway', 'monitoring');
    server = await startWebhookServer({ kubeconfigPath: cp.kubeconfigPath, extraArgs: ['--profile', 'kgateway-v2.1'] });
  });
  afterAll(async () => {
    await server?.stop();
    await cp?.stop();
  });

  const register = (rules: unknown[]) =>
    applyClusterObject(cp.kubeConfig, {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name: NAME },
      webhooks: [
        {
          name: 'policies.validate.kgateway-admission.kgateway.dev',
          clientConfig: { url: `${server.url}/validate`, caBundle: Buffer.from(server.caPem).toString('base64') },
          rules,
          failurePolicy: 'Fail',
          matchPolicy: 'Equivalent',
          sideEffects: 'None',
          admissionReviewVersions: ['v1'],
          timeoutSeconds: 5,
        },
      ],
    });
  const policy = () => ({ ...httpListenerPolicy({ name: 'ungranted', otelAccessLogRefs: [backendRef({ name: 'otel', namespace: 'monitoring' })] }), apiVersion: 'gateway.kgateway.dev/v1alpha2' });

  it("the chart's rules send v1alpha2 to the webhook, which denies it as a version it cannot read", async () => {
    expect(chartRules).toContainEqual(expect.objectContaining({ apiGroups: ['gateway.kgateway.dev'], apiVersions: ['*'] }));
    await register(chartRules);
    const { value: denied } = await pollUntil('the webhook to be called for v1alpha2', async () => {
      const res = await create(cp.kubeConfig, collection, policy(), { dryRun: true });
      return res.status === 201 ? undefined : res;
    }, 15_000, 200);
    expect(denied.status, denied.text).toBe(400);
    expect(denied.body.message).toContain('kgateway-admission cannot check HTTPListenerPolicy at gateway.kgateway.dev/v1alpha2: it reads HTTPListenerPolicy only at v1alpha1');
  });

  it('rules naming only v1alpha1 (the chart before) let the same policy through unchecked', async () => {
    await register((chartRules as { apiVersions: string[] }[]).map((rule) => ({ ...rule, apiVersions: ['v1alpha1'] })));
    const { value: admitted } = await pollUntil('the old rules to take effect', async () => {
      const res = await create(cp.kubeConfig, collection, policy(), { dryRun: true });
      return res.status === 201 ? res : undefined;
    }, 15_000, 200);
    expect(admitted.body.spec.accessLog[0].openTelemetry.grpcService.backendRef).toMatchObject({ name: 'otel', namespace: 'monitoring' });
    const stored = await kubeRequest(cp.kubeConfig, 'GET', collection);
    expect(stored.body.items).toEqual([]);
  });
});
