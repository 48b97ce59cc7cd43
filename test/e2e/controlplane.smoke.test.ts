// Smoke test of the test control plane itself: real etcd + kube-apiserver with the
// gateway-api / kgateway / agentgateway CRDs installed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { kubeRequest, requireControlPlane, startControlPlane, type ControlPlane } from '../../harness/index.ts';

const skip = await requireControlPlane();

describe.skipIf(skip)('test control plane', () => {
  let cp: ControlPlane;

  beforeAll(async () => {
    const t0 = Date.now();
    cp = await startControlPlane();
    process.stderr.write(
      `[control-plane] kubernetes ${cp.versions.kubernetes}: ready in ${cp.timings.readyMs} ms, ` +
        `${cp.crds.crds.length} CRDs established in ${Date.now() - t0} ms total\n`,
    );
  }, 300_000);

  afterAll(async () => {
    await cp?.stop();
  }, 60_000);

  const servedVersions = async (name: string): Promise<string[]> => {
    const res = await kubeRequest(cp.kubeConfig, 'GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
    expect(res.status, res.text).toBe(200);
    const established = (res.body.status?.conditions ?? []).find((c: { type: string }) => c.type === 'Established');
    expect(established?.status, `${name} Established`).toBe('True');
    return (res.body.spec.versions as { name: string; served: boolean }[]).filter((v) => v.served).map((v) => v.name);
  };

  it('has the Gateway API CRDs Established with v1 and v1beta1 served', async () => {
    expect(await servedVersions('referencegrants.gateway.networking.k8s.io')).toEqual(expect.arrayContaining(['v1', 'v1beta1']));
    expect(await servedVersions('gateways.gateway.networking.k8s.io')).toEqual(expect.arrayContaining(['v1', 'v1beta1']));
  });

  it('has the kgateway and agentgateway CRDs Established', async () => {
    expect(await servedVersions('httplistenerpolicies.gateway.kgateway.dev')).toContain('v1alpha1');
    expect(await servedVersions('listenerpolicies.gateway.kgateway.dev')).toContain('v1alpha1');
    expect(await servedVersions('gatewayparameters.gateway.kgateway.dev')).toContain('v1alpha1');
    expect(await servedVersions('agentgatewayparameters.agentgateway.dev')).toContain('v1alpha1');
  });

  it('uses a real API server with RBAC and an admin identity', async () => {
    const version = await kubeRequest(cp.kubeConfig, 'GET', '/version');
    expect(version.body.gitVersion).toBe(cp.versions.kubernetes);
    const whoami = await kubeRequest(cp.kubeConfig, 'POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    });
    expect(whoami.body.status?.userInfo?.groups).toContain('system:masters');
    const anonymous = await fetch(`${cp.server}/api/v1/namespaces`).catch((e: unknown) => e);
    // Without the CA and a client cert we get nowhere (TLS failure or 401/403).
    expect(anonymous instanceof Response ? anonymous.status : 0).not.toBe(200);
  });

  it('stores a ReferenceGrant created as v1beta1 and serves it as v1', async () => {
    const ns = 'default';
    const created = await kubeRequest(
      cp.kubeConfig,
      'POST',
      `/apis/gateway.networking.k8s.io/v1beta1/namespaces/${ns}/referencegrants`,
      {
        body: {
          apiVersion: 'gateway.networking.k8s.io/v1beta1',
          kind: 'ReferenceGrant',
          metadata: { name: 'smoke', namespace: ns },
          spec: {
            from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'apps' }],
            to: [{ group: '', kind: 'Service' }],
          },
        },
      },
    );
    expect(created.status, created.text).toBe(201);
    const got = await kubeRequest(cp.kubeConfig, 'GET', `/apis/gateway.networking.k8s.io/v1/namespaces/${ns}/referencegrants/smoke`);
    expect(got.status, got.text).toBe(200);
    expect(got.body.apiVersion).toBe('gateway.networking.k8s.io/v1');
    expect(got.body.spec.from[0]).toMatchObject({ kind: 'HTTPRoute', namespace: 'apps' });
  });
});
