// Whether the API server reaches the installed chart's webhooks through their
// Service. `helm install --wait` returns once the pods are Ready, which can be
// before kube-proxy has programmed a new Service's ClusterIP: until then every
// write the webhooks match fails with "connection refused" (failurePolicy
// Fail). A dry-run policy with an ungranted cross-namespace backendRef is
// denied by the validating webhook and by nothing else, so its 403 proves the
// call went through.
import type * as k8s from '@kubernetes/client-node';

import { kubeRequest } from './kubeApi.ts';

function ungrantedPolicy(namespace: string): unknown {
  return {
    apiVersion: 'gateway.kgateway.dev/v1alpha1',
    kind: 'HTTPListenerPolicy',
    metadata: { name: 'kga-reach-probe', namespace },
    spec: {
      targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'kga-reach-probe' }],
      accessLog: [{ openTelemetry: { grpcService: { backendRef: { name: 'kga-reach-probe', namespace: 'kga-reach-probe-elsewhere', port: 4317 }, logName: 'probe' } } }],
    },
  };
}

/**
 * Waits until `inARow` dry-run writes in a row, in `namespace` (one the
 * webhooks do not leave out), come back denied by the webhook; returns the
 * milliseconds it took. Throws with the last answer after `timeoutMs`.
 */
export async function waitForWebhooksReached(kc: k8s.KubeConfig, { namespace = 'default', timeoutMs = 120_000, inARow = 3 } = {}): Promise<number> {
  const started = performance.now();
  const path = `/apis/gateway.kgateway.dev/v1alpha1/namespaces/${namespace}/httplistenerpolicies?dryRun=All`;
  let streak = 0;
  let last = 'no answer yet';
  while (streak < inARow) {
    if (performance.now() - started > timeoutMs) throw new Error(`the API server did not reach the webhooks through their Service within ${timeoutMs} ms; last answer: ${last}`);
    let reached = false;
    try {
      const res = await kubeRequest(kc, 'POST', path, { body: ungrantedPolicy(namespace), timeoutMs: 10_000 });
      reached = res.status === 403 && String(res.body?.message ?? '').includes('denied the request');
      last = `${res.status} ${String(res.body?.message ?? res.text).slice(0, 300)}`;
    } catch (error) {
      last = (error as Error).message;
    }
    streak = reached ? streak + 1 : 0;
    if (!reached) await new Promise((r) => setTimeout(r, 250));
  }
  return Math.round(performance.now() - started);
}
