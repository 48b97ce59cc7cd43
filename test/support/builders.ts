import type { AdmissionRequest, KubeObject, Operation } from '../../src/rules/types.js';

// Fixture builders for the brief's objects; each test states only what differs.

export function gateway(overrides: { name?: string; namespace?: string; className?: string; version?: string; spec?: Record<string, unknown>; annotations?: Record<string, string> } = {}): KubeObject {
  return {
    apiVersion: `gateway.networking.k8s.io/${overrides.version ?? 'v1'}`,
    kind: 'Gateway',
    metadata: {
      name: overrides.name ?? 'agentgateway',
      namespace: overrides.namespace ?? 'kgateway',
      ...(overrides.annotations ? { annotations: overrides.annotations } : {}),
    },
    spec: {
      gatewayClassName: overrides.className ?? 'agentgateway',
      listeners: [{ name: 'http', protocol: 'HTTP', port: 8080, allowedRoutes: { namespaces: { from: 'All' } } }],
      ...overrides.spec,
    },
  };
}

export interface RefFields {
  name?: string;
  namespace?: string;
  group?: string;
  kind?: string;
  port?: number;
}

export function backendRef(fields: RefFields = {}): Record<string, unknown> {
  return { name: 'otel-collector-collector', namespace: 'monitoring', port: 4317, ...fields };
}

export function httpListenerPolicy(
  options: { name?: string; namespace?: string; accessLogRefs?: Record<string, unknown>[]; otelAccessLogRefs?: Record<string, unknown>[]; tracingRef?: Record<string, unknown> } = {},
): KubeObject {
  const accessLog = [
    ...(options.accessLogRefs ?? []).map((ref) => ({ grpcService: { backendRef: ref, logName: 'grpc-logs' } })),
    ...(options.otelAccessLogRefs ?? [backendRef()]).map((ref) => ({ openTelemetry: { grpcService: { backendRef: ref, logName: 'otel-logs' } } })),
  ];
  return {
    apiVersion: 'gateway.kgateway.dev/v1alpha1',
    kind: 'HTTPListenerPolicy',
    metadata: { name: options.name ?? 'logging-policy', namespace: options.namespace ?? 'kgateway' },
    spec: {
      targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'agentgateway' }],
      ...(accessLog.length > 0 ? { accessLog } : {}),
      ...(options.tracingRef ? { tracing: { provider: { openTelemetry: { grpcService: { backendRef: options.tracingRef } } } } } : {}),
    },
  };
}

export function listenerPolicy(options: { name?: string; namespace?: string; defaultRef?: Record<string, unknown>; perPortRefs?: Record<string, unknown>[] } = {}): KubeObject {
  const httpSettings = (ref: Record<string, unknown>) => ({ accessLog: [{ openTelemetry: { grpcService: { backendRef: ref, logName: 'listener-logs' } } }] });
  return {
    apiVersion: 'gateway.kgateway.dev/v1alpha1',
    kind: 'ListenerPolicy',
    metadata: { name: options.name ?? 'listener-policy', namespace: options.namespace ?? 'kgateway' },
    spec: {
      targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'agentgateway' }],
      ...(options.defaultRef ? { default: { httpSettings: httpSettings(options.defaultRef) } } : {}),
      ...(options.perPortRefs
        ? { perPort: options.perPortRefs.map((ref, i) => ({ port: 8080 + i, listener: { httpSettings: httpSettings(ref) } })) }
        : {}),
    },
  };
}

export function referenceGrant(options: {
  name?: string;
  namespace?: string;
  version?: string;
  from?: { group?: string; kind?: string; namespace?: string }[];
  to?: { group?: string; kind?: string; name?: string }[];
} = {}): KubeObject {
  return {
    apiVersion: `gateway.networking.k8s.io/${options.version ?? 'v1beta1'}`,
    kind: 'ReferenceGrant',
    metadata: { name: options.name ?? 'allow-otel-collector-access', namespace: options.namespace ?? 'monitoring' },
    spec: {
      from: (options.from ?? [{}]).map((f) => ({ group: 'gateway.kgateway.dev', kind: 'HTTPListenerPolicy', namespace: 'kgateway', ...f })),
      to: (options.to ?? [{}]).map((t) => ({ group: '', kind: 'Service', name: 'otel-collector-collector', ...t })),
    },
  };
}

export function gatewayClass(name: string, controllerName: string, parametersRef?: { group: string; kind: string; name: string; namespace?: string }): KubeObject {
  return { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name }, spec: { controllerName, ...(parametersRef ? { parametersRef } : {}) } };
}

let uidCounter = 0;

/** The request the API server would send for `object`. */
export function admissionRequest(object: KubeObject | null, operation: Operation = 'CREATE', oldObject?: KubeObject | null): AdmissionRequest {
  const source = object ?? oldObject;
  const [group, version] = (source?.apiVersion ?? 'v1').includes('/') ? (source!.apiVersion as string).split('/') : ['', source?.apiVersion ?? 'v1'];
  return {
    uid: `00000000-0000-0000-0000-${String(++uidCounter).padStart(12, '0')}`,
    kind: { group: group!, version: version!, kind: source?.kind ?? 'Unknown' },
    operation,
    namespace: source?.metadata?.namespace,
    name: source?.metadata?.name,
    object,
    ...(oldObject !== undefined ? { oldObject } : {}),
  };
}

export function admissionReview(request: AdmissionRequest): Record<string, unknown> {
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request };
}
