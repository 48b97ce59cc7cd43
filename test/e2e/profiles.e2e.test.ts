// serve picks its profile from the CRDs the cluster serves; --profile (the
// chart's config.profile) overrides. On every target (test/support/e2eTarget.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gateway, gatewayClass } from '../support/builders.js';
import { e2eTarget, type E2eCluster } from '../support/e2eTarget.js';
import { create, PATHS, pollUntil } from './support.js';

const target = await e2eTarget();

const PARAMETERS = [
  ['/apis/gateway.kgateway.dev/v1alpha1/namespaces/ai/gatewayparameters', { apiVersion: 'gateway.kgateway.dev/v1alpha1', kind: 'GatewayParameters', metadata: { name: 'agentgateway-otel', namespace: 'ai' }, spec: { kube: { agentgateway: { enabled: true } } } }],
  ['/apis/agentgateway.dev/v1alpha1/namespaces/ai/agentgatewayparameters', { apiVersion: 'agentgateway.dev/v1alpha1', kind: 'AgentgatewayParameters', metadata: { name: 'agentgateway-otel', namespace: 'ai' }, spec: {} }],
] as const;

describe.skipIf(target.skip)(`profiles through a real kube-apiserver (kgateway v2.2.0 CRDs, ${target.name})`, () => {
  let cluster: E2eCluster;
  beforeAll(async () => {
    cluster = await target.startCluster({ namespaces: ['ai'], gatewayClasses: ['old-controller', 'new-controller'] });
    await create(cluster.kubeConfig, PATHS.gatewayClasses, gatewayClass('old-controller', 'kgateway.dev/agentgateway'));
    await create(cluster.kubeConfig, PATHS.gatewayClasses, gatewayClass('new-controller', 'agentgateway.dev/agentgateway'));
    // Each profile's parameters object beside the Gateways: the webhook adds no ref to a missing one.
    for (const [path, object] of PARAMETERS) {
      const res = await create(cluster.kubeConfig, path, object);
      expect(res.status, res.text).toBe(201);
    }
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
    // Both parameters objects were created in beforeAll: the kinds are served. Each profile's ref on a real Gateway:
    for (const [profile, kind] of [
      ['kgateway-v2.1', 'GatewayParameters'],
      ['agentgateway-v2.2', 'AgentgatewayParameters'],
    ] as const) {
      await withServer(profile, async () => {
        const res = await create(cluster.kubeConfig, PATHS.gateways('ai'), gateway({ name: `stored-${kind.toLowerCase()}`, namespace: 'ai' }));
        expect(res.status, `${profile}: ${res.text}`).toBe(201);
        expect(res.body.spec.infrastructure.parametersRef.kind).toBe(kind);
      });
    }
  });
});
