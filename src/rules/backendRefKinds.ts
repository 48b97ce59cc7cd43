import type { BackendRefKind } from './settings.js';

const KGATEWAY = 'gateway.kgateway.dev';
const AGENTGATEWAY = 'agentgateway.dev';
/** The only version kgateway v2.2.0 and agentgateway v2.2 serve these kinds at. */
const V1ALPHA1 = ['v1alpha1'] as const;

// Where kgateway's HTTP listener settings carry backendRefs, checked against
// the v2.2.0 CRDs (install/helm/kgateway-crds/templates). ListenerPolicy holds
// the same block as HTTPListenerPolicy under `httpSettings`, once as default
// and once per port. kgateway resolves each of these with
// BackendIndex.GetBackendFromRef, which enforces ReferenceGrants
// (pkg/kgateway/extensions2/plugins/listenerpolicy/*_converter.go).
const httpSettingsBackendRefs = [
  'accessLog[].grpcService.backendRef',
  'accessLog[].openTelemetry.grpcService.backendRef',
  'tracing.provider.openTelemetry.grpcService.backendRef',
];

const promptGuardBackendRefs = (prefix: string) => [
  `${prefix}.ai.promptGuard.request[].webhook.backendRef`,
  `${prefix}.ai.promptGuard.response[].webhook.backendRef`,
  `${prefix}.mcp.authentication.jwks.backendRef`,
];

/**
 * The built-in table: a new kind is a new row, not new code. TrafficPolicy is
 * absent on purpose: its cross-namespace refs (`extensionRef`) name a
 * GatewayExtension, which kgateway v2.2 fetches without a ReferenceGrant
 * check (trafficpolicy/constructor.go FetchGatewayExtension); the
 * GatewayExtension's own backendRefs are checked instead.
 */
export const builtInBackendRefKinds: readonly BackendRefKind[] = [
  {
    group: KGATEWAY,
    kind: 'HTTPListenerPolicy',
    versions: V1ALPHA1,
    paths: httpSettingsBackendRefs.map((p) => `spec.${p}`),
  },
  {
    group: KGATEWAY,
    kind: 'ListenerPolicy',
    versions: V1ALPHA1,
    paths: [
      ...httpSettingsBackendRefs.map((p) => `spec.default.httpSettings.${p}`),
      ...httpSettingsBackendRefs.map((p) => `spec.perPort[].listener.httpSettings.${p}`),
    ],
  },
  // ext-auth, ext-proc, rate-limit, JWKS and OAuth2 services used by
  // TrafficPolicies (trafficpolicy/gateway_extension.go resolveBackend).
  {
    group: KGATEWAY,
    kind: 'GatewayExtension',
    versions: V1ALPHA1,
    paths: [
      'spec.extAuth.grpcService.backendRef',
      'spec.extAuth.httpService.backendRef',
      'spec.extProc.grpcService.backendRef',
      'spec.jwt.providers[].jwks.remote.backendRef',
      'spec.oauth2.backendRef',
      'spec.rateLimit.grpcService.backendRef',
    ],
  },
  // agentgateway v2.2 kinds (install/helm/agentgateway-crds/templates); its
  // translator reports "not accessible … (missing a ReferenceGrant?)" for these.
  {
    group: AGENTGATEWAY,
    kind: 'AgentgatewayPolicy',
    versions: V1ALPHA1,
    paths: [
      ...promptGuardBackendRefs('spec.backend'),
      'spec.frontend.tracing.backendRef',
      'spec.traffic.extAuth.backendRef',
      'spec.traffic.extProc.backendRef',
      'spec.traffic.jwtAuthentication.providers[].jwks.remote.backendRef',
      'spec.traffic.rateLimit.global.backendRef',
    ],
  },
  {
    group: AGENTGATEWAY,
    kind: 'AgentgatewayBackend',
    versions: V1ALPHA1,
    paths: [
      ...promptGuardBackendRefs('spec.policies'),
      'spec.ai.groups[].providers[].policies.ai.promptGuard.request[].webhook.backendRef',
      'spec.ai.groups[].providers[].policies.ai.promptGuard.response[].webhook.backendRef',
      'spec.mcp.targets[].static.policies.mcp.authentication.jwks.backendRef',
    ],
  },
];
