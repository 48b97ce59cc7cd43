// serve picks its profile from the CRDs the cluster serves; --profile overrides.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gateway, gatewayClass } from '../support/builders.js';
import { registerWebhooks, requireControlPlane, startControlPlane, startWebhookServer, unregisterWebhooks, type ControlPlane } from '../../harness/index.ts';
import { create, ensureNamespaces, PATHS, pollUntil } from './support.js';

const skip = await requireControlPlane();

describe.skipIf(skip)('profiles through a real kube-apiserver (kgateway v2.2.0 CRDs)', () => {
  let cp: ControlPlane;
  beforeAll(async () => {
    cp = await startControlPlane();
    await ensureNamespaces(cp.kubeConfig, 'ai');
    await create(cp.kubeConfig, PATHS.gatewayClasses, gatewayClass('old-controller', 'kgateway.dev/agentgateway'));
    await create(cp.kubeConfig, PATHS.gatewayClasses, gatewayClass('new-controller', 'agentgateway.dev/agentgateway'));
  });
  afterAll(async () => {
    await cp?.stop();
  });

  async function withServer(extraArgs: string[], body: () => Promise<void>) {
    const server = await startWebhookServer({ kubeconfigPath: cp.kubeconfigPath, extraArgs });
    try {
      await registerWebhooks(cp.kubeConfig, { url: server.url, caPem: server.caPem });
      await body();
    } finally {
      await unregisterWebhooks(cp.kubeConfig);
      await server.stop();
    }
  }

  const infrastructureOf = async (className: string) => {
    const res = await create(cp.kubeConfig, PATHS.gateways('ai'), gateway({ name: `gw-${className}`, namespace: 'ai', className }), { dryRun: true });
    expect(res.status, res.text).toBe(201);
    return res.body.spec.infrastructure;
  };

  it('without --profile, a cluster that serves AgentgatewayParameters gets agentgateway-v2.2', async () => {
    await withServer([], async () => {
      expect(await infrastructureOf('agentgateway')).toEqual({ parametersRef: { group: 'agentgateway.dev', kind: 'AgentgatewayParameters', name: 'agentgateway-otel' } });
      // Both controller names count under v2.2, once the watch has the classes.
      for (const className of ['new-controller', 'old-controller']) {
        await pollUntil(`class ${className}`, async () => ((await infrastructureOf(className)) ? true : undefined));
      }
    });
  });

  it('--profile kgateway-v2.1 points at GatewayParameters and knows only the old controller name', async () => {
    await withServer(['--profile', 'kgateway-v2.1'], async () => {
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
      const res = await create(cp.kubeConfig, path, { apiVersion, kind, metadata: { name: 'agentgateway-otel', namespace: 'ai' }, spec }, { dryRun: true });
      expect(res.status, `${profile}: ${res.text}`).toBe(201);
    }
  });
});
