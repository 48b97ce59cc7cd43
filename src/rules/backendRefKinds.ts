import type { BackendRefKind } from './settings.js';

const KGATEWAY = 'gateway.kgateway.dev';

// Where kgateway's HTTP listener settings carry backendRefs, checked against
// the v2.2.0 CRDs (install/helm/kgateway-crds/templates). ListenerPolicy holds
// the same block as HTTPListenerPolicy under `httpSettings`, once as default
// and once per port.
const httpSettingsBackendRefs = [
  'accessLog[].grpcService.backendRef',
  'accessLog[].openTelemetry.grpcService.backendRef',
  'tracing.provider.openTelemetry.grpcService.backendRef',
];

/** The built-in table: a new kind is a new row, not new code. */
export const builtInBackendRefKinds: readonly BackendRefKind[] = [
  {
    group: KGATEWAY,
    kind: 'HTTPListenerPolicy',
    paths: httpSettingsBackendRefs.map((p) => `spec.${p}`),
  },
  {
    group: KGATEWAY,
    kind: 'ListenerPolicy',
    paths: [
      ...httpSettingsBackendRefs.map((p) => `spec.default.httpSettings.${p}`),
      ...httpSettingsBackendRefs.map((p) => `spec.perPort[].listener.httpSettings.${p}`),
    ],
  },
];
