// The table's other rows, with objects the real v2.2.0 CRDs accept, on every
// target (test/support/e2eTarget.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { referenceGrant } from '../support/builders.js';
import { e2eTarget, type E2eCluster, type WebhookUnderTest } from '../support/e2eTarget.js';
import { create, PATHS } from './support.js';

const target = await e2eTarget();

const extAuth = (namespace: string) => ({
  apiVersion: 'gateway.kgateway.dev/v1alpha1',
  kind: 'GatewayExtension',
  metadata: { name: `ext-auth-${namespace}`, namespace: 'apps' },
  spec: { extAuth: { grpcService: { backendRef: { name: 'authz', namespace, port: 9000 } } } },
});
const agwPolicy = (namespace: string) => ({
  apiVersion: 'agentgateway.dev/v1alpha1',
  kind: 'AgentgatewayPolicy',
  metadata: { name: `tracing-${namespace}`, namespace: 'apps' },
  spec: {
    targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'agentgateway' }],
    frontend: { tracing: { backendRef: { name: 'collector', namespace, port: 4317 } } },
  },
});

describe.skipIf(target.skip)(`GatewayExtension and AgentgatewayPolicy through a real kube-apiserver (${target.name})`, () => {
  let cluster: E2eCluster;
  let server: WebhookUnderTest;
  beforeAll(async () => {
    cluster = await target.startCluster({ namespaces: ['apps', 'auth', 'observability'] });
    server = await target.startWebhook(cluster, { profile: 'agentgateway-v2.2' });
  });
  afterAll(async () => {
    await server?.release();
    await cluster?.stop();
  });

  it.each([
    ['GatewayExtension', '/apis/gateway.kgateway.dev/v1alpha1/namespaces/apps/gatewayextensions', extAuth, 'auth', 'spec.extAuth.grpcService.backendRef: Service auth/authz'],
    ['AgentgatewayPolicy', '/apis/agentgateway.dev/v1alpha1/namespaces/apps/agentgatewaypolicies', agwPolicy, 'observability', 'spec.frontend.tracing.backendRef: Service observability/collector'],
  ] as const)('%s: a cross-namespace ref is denied until its grant exists; a local one needs none', async (kind, path, build, target, location) => {
    const local = await create(cluster.kubeConfig, path, build('apps'));
    expect(local.status, local.text).toBe(201);
    const denied = await create(cluster.kubeConfig, path, build(target));
    expect(denied.status, denied.text).toBe(403);
    expect(denied.body.message).toContain(`- ${location}`);
    expect(denied.body.message).toContain(`kind: ${kind}`);
    const grant = referenceGrant({ name: `from-${kind.toLowerCase()}`, namespace: target, from: [{ group: build(target).apiVersion.split('/')[0], kind, namespace: 'apps' }], to: [{ name: '' }] });
    delete (grant.spec as { to: { name?: string }[] }).to[0]!.name;
    expect((await create(cluster.kubeConfig, PATHS.referenceGrants(target), grant)).status).toBe(201);
    const accepted = await create(cluster.kubeConfig, path, build(target));
    expect(accepted.status, accepted.text).toBe(201);
  });
});
