// Registering our webhook server with the API server (a Mutating and a
// Validating WebhookConfiguration) and waiting until the API server calls it.
import type * as k8s from '@kubernetes/client-node';

import { applyClusterObject, FIELD_MANAGER, kubeRequest } from './kubeApi.ts';
import { waitFor } from './wait.ts';

export interface RegisterWebhooksOptions {
  /** Base URL of the webhook server; /mutate and /validate are appended. */
  url: string;
  caPem: string;
  failurePolicy?: 'Fail' | 'Ignore';
  /** Name of both configurations (default "kgateway-admission"). */
  name?: string;
  timeoutSeconds?: number;
  namespaceSelector?: unknown;
  /** How long to wait for the API server to start calling the webhooks (default 30 s). */
  waitMs?: number;
  /** Also send ReferenceGrant UPDATE and DELETE to /validate (the grant guard; default true). */
  guardReferenceGrants?: boolean;
  /**
   * CEL matchConditions of each webhook (src/rules/matchConditions.ts
   * webhookMatchConditions; the harness imports nothing of src/). The grant
   * guard's go to the /validate webhook beside the policies' (each condition
   * passes every kind but its own). Unset: every request is sent.
   */
  matchConditions?: { mutating: readonly MatchCondition[]; validating: readonly MatchCondition[]; grantGuard: readonly MatchCondition[] };
}

export interface MatchCondition {
  name: string;
  expression: string;
}

type ConfigurationKind = 'mutating' | 'validating';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

export const DEFAULT_WEBHOOK_NAME = 'kgateway-admission';
const PROBE_LABEL = 'kgateway-admission.test/webhook-probe';

function probeWebhook(kind: ConfigurationKind, name: string) {
  return {
    name: `probe-${kind}.webhook-probe.kgateway-admission.test`,
    // Unreachable on purpose: a probe ConfigMap is rejected once this configuration is live.
    clientConfig: { url: 'https://127.0.0.1:1/probe' },
    rules: [{ apiGroups: [''], apiVersions: ['v1'], resources: ['configmaps'], operations: ['CREATE'], scope: 'Namespaced' }],
    objectSelector: { matchLabels: { [PROBE_LABEL]: `${kind}-${name}` } },
    sideEffects: 'None',
    admissionReviewVersions: ['v1'],
    failurePolicy: 'Fail',
    matchPolicy: 'Equivalent',
    timeoutSeconds: 2,
  };
}

/** true when the probe webhook of configuration kind/name is being called by the API server. */
async function probeActive(kc: k8s.KubeConfig, kind: ConfigurationKind, name: string): Promise<boolean> {
  const res = await kubeRequest(kc, 'POST', '/api/v1/namespaces/default/configmaps?dryRun=All', {
    body: {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { generateName: 'kga-webhook-probe-', labels: { [PROBE_LABEL]: `${kind}-${name}` } },
    },
  });
  if (res.status >= 200 && res.status < 300) return false;
  const msg = String(res.body?.message ?? res.text);
  if (msg.includes(`probe-${kind}.webhook-probe`)) return true;
  throw new Error(`webhook probe: unexpected answer ${res.status}: ${msg.slice(0, 300)}`);
}

/**
 * Registers (server-side apply) a MutatingWebhookConfiguration (`/mutate`: Gateways)
 * and a ValidatingWebhookConfiguration (`/validate`: HTTPListenerPolicies and
 * ListenerPolicies, GatewayExtensions, AgentgatewayPolicies and AgentgatewayBackends) pointing at `url` with `caPem` as caBundle, and waits until the
 * API server actually calls them (via a probe webhook on labelled dry-run ConfigMaps).
 */
export async function registerWebhooks(kc: k8s.KubeConfig, opts: RegisterWebhooksOptions): Promise<{ mutating: any; validating: any }> {
  const {
    url,
    caPem,
    failurePolicy = 'Fail',
    name = DEFAULT_WEBHOOK_NAME,
    timeoutSeconds = 10,
    namespaceSelector,
    waitMs = 30_000,
    guardReferenceGrants = true,
    matchConditions,
  } = opts;
  const base = url.replace(/\/+$/, '');
  const caBundle = b64(caPem);
  const common = {
    sideEffects: 'None',
    admissionReviewVersions: ['v1'],
    failurePolicy,
    matchPolicy: 'Equivalent',
    timeoutSeconds,
    ...(namespaceSelector ? { namespaceSelector } : {}),
  };
  const mutating = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name, labels: { 'app.kubernetes.io/managed-by': FIELD_MANAGER } },
    webhooks: [
      {
        name: 'gateways.mutate.kgateway-admission.kgateway.dev',
        clientConfig: { url: `${base}/mutate`, caBundle },
        rules: [
          {
            apiGroups: ['gateway.networking.k8s.io'],
            apiVersions: ['v1', 'v1beta1'],
            resources: ['gateways'],
            operations: ['CREATE', 'UPDATE'],
            scope: 'Namespaced',
          },
        ],
        reinvocationPolicy: 'Never',
        ...(matchConditions ? { matchConditions: matchConditions.mutating } : {}),
        ...common,
      },
      probeWebhook('mutating', name),
    ],
  };
  const validating = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name, labels: { 'app.kubernetes.io/managed-by': FIELD_MANAGER } },
    webhooks: [
      {
        name: 'policies.validate.kgateway-admission.kgateway.dev',
        clientConfig: { url: `${base}/validate`, caBundle },
        rules: [
          {
            apiGroups: ['gateway.kgateway.dev'],
            apiVersions: ['v1alpha1'],
            resources: ['httplistenerpolicies', 'listenerpolicies', 'gatewayextensions', 'trafficpolicies'],
            operations: ['CREATE', 'UPDATE'],
            scope: 'Namespaced',
          },
          {
            apiGroups: ['agentgateway.dev'],
            apiVersions: ['v1alpha1'],
            resources: ['agentgatewaypolicies', 'agentgatewaybackends', 'agentgatewaymodels'],
            operations: ['CREATE', 'UPDATE'],
            scope: 'Namespaced',
          },
          ...(guardReferenceGrants
            ? [
                {
                  apiGroups: ['gateway.networking.k8s.io'],
                  apiVersions: ['v1', 'v1beta1'],
                  resources: ['referencegrants'],
                  operations: ['UPDATE', 'DELETE'],
                  scope: 'Namespaced',
                },
              ]
            : []),
        ],
        ...(matchConditions
          ? { matchConditions: [...matchConditions.validating, ...(guardReferenceGrants ? matchConditions.grantGuard : [])] }
          : {}),
        ...common,
      },
      probeWebhook('validating', name),
    ],
  };
  await applyClusterObject(kc, mutating);
  await applyClusterObject(kc, validating);
  for (const kind of ['mutating', 'validating'] as const) {
    await waitFor(`${kind} webhook configuration ${name} to take effect`, () => probeActive(kc, kind, name), {
      timeoutMs: waitMs,
      intervalMs: 100,
    });
  }
  return { mutating, validating };
}

/** Deletes both webhook configurations and waits until the API server stops calling them. */
export async function unregisterWebhooks(kc: k8s.KubeConfig, { name = DEFAULT_WEBHOOK_NAME, waitMs = 30_000 }: { name?: string; waitMs?: number } = {}): Promise<void> {
  for (const [kind, plural] of [
    ['mutating', 'mutatingwebhookconfigurations'],
    ['validating', 'validatingwebhookconfigurations'],
  ] as const) {
    const res = await kubeRequest(kc, 'DELETE', `/apis/admissionregistration.k8s.io/v1/${plural}/${name}`);
    if (res.status === 404) continue;
    if (res.status >= 300) throw new Error(`deleting ${plural}/${name}: ${res.status} ${res.text.slice(0, 300)}`);
    await waitFor(`${kind} webhook configuration ${name} to be gone`, async () => !(await probeActive(kc, kind, name)), {
      timeoutMs: waitMs,
      intervalMs: 100,
    });
  }
}

