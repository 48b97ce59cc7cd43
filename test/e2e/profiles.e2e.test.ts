// serve picks its profile from the CRDs the cluster serves; --profile (the
// chart's config.profile) overrides. On every target (test/support/e2eTarget.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gateway, gatewayClass } from '../support/builders.js';
import { e2eTarget, type E2eCluster } from '../support/e2eTarget.js';
import { create, PATHS, pollUntil } from './support.js';

const target = await e2eTarget();

describe.skipIf(target.skip)(`profiles through a real kube-apiserver (kgateway v2.2.0 CRDs, ${target.name})`, () => {
  let cluster: E2eCluster;
  beforeAll(async () => {
    cluster = await target.startCluster({ namespaces: ['ai'], gatewayClasses: ['old-controller', 'new-controller'] });
    await create(cluster.kubeConfig, PATHS.gatewayClasses, gatewayClass('old-controller', 'kgateway.dev/agentgateway'));
    await create(cluster.kubeConfig, PATHS.gatewayClasses, gatewayClass('new-controller', 'agentgateway.dev/agentgateway'));
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  async function withServer(profile: string | undefined, body: () => Promise<void>) {
    const server = await target.startWebhook(cluster, { profile });
    try {
      await body();
    } finally {
      await server.release();
    }
  }

  const infrastructureOf = async (className: string) => {
    const res = await create(cluster.kubeConfig, PATHS.gateways('ai'), gateway({ name: `gw-${className}`, namespace: 'ai', className }), { dryRun: true });
    expect(res.status, res.text).toBe(201);
    return res.body.spec.infrastructure;
  };

  it('without --profile, a cluster that serves AgentgatewayParameters gets agentgateway-v2.2', async () => {
    await withServer(undefined, async () => {
      expect(await infrastructureOf('agentgateway')).toEqual({ parametersRef: { group: 'agentgateway.dev', kind: 'AgentgatewayParameters', name: 'agentgateway-otel' } });
      // Both controller names count under v2.2, once the watch has the classes.
      for (const className of ['new-controller', 'old-controller']) {
        await pollUntil(`class ${className}`, async () => ((await infrastructureOf(className)) ? true : undefined));
      }
    });
  });

  it('--profile kgateway-v2.1 points at GatewayParameters and knows only the old controller name', async () => {
    await withServer('kgateway-v2.1', async () => {
      expect(await infrastructureOf('agentgateway')).toEqual({ parametersRef: { group: 'gateway.kgateway.dev', kind: 'GatewayParameters', name: 'agentgateway-otel' } });
      await pollUntil('class old-controller', async () => ((await infrastructureOf('old-controller')) ? true : undefined));
      expect(await infrastructureOf('new-controller')).toBeUndefined();
    });
  });

  it('the parametersRef each profile adds is accepted by the real Gateway CRD and names a kind the cluster serves', async () => {
    for (const [profile, apiVersion, kind, path, spec] of [
      ['kgateway-v2.1', 'gateway.kgateway.dev/v1alpha1', 'GatewayParameters', '/apis/gateway.kgateway.dev/v1alpha1/namespaces/ai/gatewayparameters', { kube: { agentgateway: { enabled: true } } }],
      ['agentgateway-v2.2', 'agentgateway.dev/v1alpha1', 'AgentgatewayParameters', '/apis/agentgateway.dev/v1alpha1/namespaces/ai/agentgatewayparameters', {}],
    ] as const) {
      const res = await create(cluster.kubeConfig, path, { apiVersion, kind, metadata: { name: 'agentgateway-otel', namespace: 'ai' }, spec }, { dryRun: true });
      expect(res.status, `${profile}: ${res.text}`).toBe(201);
    }
  });
});
