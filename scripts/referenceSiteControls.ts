// What each controller does with a reference site, read from the controller
// code in the same Go modules as the CRDs (kgateway v2.4.2, agentgateway
// v1.4.1; earlier lines checked where they differ) and cited by file and
// function. scripts/reference-sites.ts joins every scanned site with the first
// rule here that matches it; a site no rule matches stops the generator, so a
// new kind of site in a new release gets a human decision, not a default.
import type { GrantControl } from '#dist/rules/grantModes.js';

export interface SiteControlRule {
  /** Citation key, written beside each site in the generated table. */
  cite: string;
  group: string;
  /** Kinds it applies to; every kind of the group when unset. */
  kinds?: string[];
  /** Matched against the site's path. */
  path: RegExp;
  control: GrantControl | 'none';
  /** What a reference here names when it leaves group and kind out. */
  target: { group: string; kind: string };
  grantFrom?: { group: string; kind: string };
  /** What the controller does, with where it does it. */
  controller: string;
}

const KGATEWAY = 'gateway.kgateway.dev';
const AGENTGATEWAY = 'agentgateway.dev';
const SERVICE = { group: '', kind: 'Service' };
const SECRET = { group: '', kind: 'Secret' };

export const SITE_CONTROL_RULES: readonly SiteControlRule[] = [
  {
    cite: 'status',
    group: '*',
    path: /^status\./,
    control: 'none',
    target: { group: 'gateway.networking.k8s.io', kind: 'Gateway' },
    controller: 'status written by the controller itself (ancestorRef/parentRef of a policy status); no user writes it and admission of the main resource never sees it.',
  },
  // kgateway (Envoy data plane), module github.com/kgateway-dev/kgateway/v2 v2.4.2
  {
    cite: 'kgateway-listener-backend',
    group: KGATEWAY,
    kinds: ['HTTPListenerPolicy', 'ListenerPolicy'],
    path: /\.backendRef$/,
    control: 'kgateway-backend',
    target: SERVICE,
    controller:
      'pkg/kgateway/extensions2/plugins/listenerpolicy/access_logging_converter.go and tracing_converter.go: BackendIndex.GetBackendFromRef (pkg/krtcollections/policy.go) → RefGrantIndex.ReferenceAllowed, from the policy; OFF allows every ref; reported as "unresolved backend reference: missing reference grant".',
  },
  {
    cite: 'kgateway-listener-secret',
    group: KGATEWAY,
    kinds: ['HTTPListenerPolicy', 'ListenerPolicy'],
    path: /\.secretRef$/,
    control: 'kgateway-secret',
    target: SECRET,
    controller:
      'pkg/kgateway/extensions2/plugins/listenerpolicy/local_reply_converter.go convertLocalReplyConfig → pluginutils.ConvertHeaderFilter → SecretIndex.GetSecret (pkg/krtcollections/secrets.go) → RefGrantIndex.ReferenceAllowed, from the policy.',
  },
  {
    cite: 'kgateway-listener-ca-certificate',
    group: KGATEWAY,
    kinds: ['ListenerPolicy'],
    path: /\.caCertificateRefs\[\]$/,
    control: 'kgateway-secret',
    // group and kind are required by the schema; ConfigMap is what a CA bundle usually is.
    target: { group: '', kind: 'ConfigMap' },
    grantFrom: { group: 'gateway.networking.k8s.io', kind: 'Gateway' },
    controller:
      'pkg/kgateway/translator/listener/gateway_listener_translator.go applyClientCertificateValidation → buildCaCertificateReference → GetConfigMapForRef / GetSecretForRef with the listener\'s parent (the Gateway, in its namespace) as `from`, through the ConfigMapIndex / SecretIndex and the RefGrantIndex.',
  },
  {
    cite: 'kgateway-extension-backend',
    group: KGATEWAY,
    kinds: ['GatewayExtension'],
    path: /\.(backendRef|jwksBackendRef)$/,
    control: 'kgateway-backend',
    target: SERVICE,
    controller:
      'pkg/kgateway/extensions2/plugins/trafficpolicy/gateway_extension.go resolveBackend / ResolveExtGrpcService, oauth2.go and jwt.go → BackendIndex.GetBackendFromRef, from the GatewayExtension (GetBackendFromRefWithoutRefGrantValidation only when extension ref validation is disabled).',
  },
  {
    cite: 'kgateway-traffic-extension',
    group: KGATEWAY,
    kinds: ['TrafficPolicy'],
    path: /\.extensionRef$/,
    control: 'kgateway-extension',
    target: { group: KGATEWAY, kind: 'GatewayExtension' },
    controller:
      'pkg/kgateway/extensions2/plugins/trafficpolicy/constructor.go FetchGatewayExtension: a cross-namespace GatewayExtension needs a grant only when KGW_REFERENCE_GRANT_MODE is STRICT.',
  },
  {
    cite: 'kgateway-traffic-secret',
    group: KGATEWAY,
    kinds: ['TrafficPolicy'],
    path: /\.secretRef$/,
    control: 'kgateway-secret',
    target: SECRET,
    controller:
      'pkg/kgateway/extensions2/plugins/trafficpolicy/header_modifiers.go, basic_auth_policy.go, api_key_auth.go → SecretIndex.GetSecret (pkg/krtcollections/secrets.go) → RefGrantIndex.ReferenceAllowed, from the TrafficPolicy.',
  },
  {
    cite: 'kgateway-pvc-data-source',
    group: KGATEWAY,
    kinds: ['GatewayParameters'],
    path: /\.dataSourceRef$/,
    control: 'none',
    target: { group: '', kind: 'PersistentVolumeClaim' },
    controller:
      'a PersistentVolumeClaim template of the proxy pod (Kubernetes core/v1 TypedObjectReference): copied into the Deployment, resolved by Kubernetes (CrossNamespaceVolumeDataSource), never by kgateway.',
  },
  // agentgateway 1.x, module github.com/agentgateway/agentgateway v1.4.1 (controller/)
  {
    cite: 'agentgateway-model-parent',
    group: AGENTGATEWAY,
    kinds: ['AgentgatewayModel'],
    path: /^spec\.parentRefs\[\]$/,
    control: 'none',
    target: { group: 'gateway.networking.k8s.io', kind: 'Gateway' },
    controller:
      'route attachment (controller/pkg/agentgateway/translator/model_collections.go): a Gateway in another namespace admits it through its listeners\' allowedRoutes, not a ReferenceGrant.',
  },
  {
    cite: 'agentgateway-policy-backend',
    group: AGENTGATEWAY,
    kinds: ['AgentgatewayPolicy'],
    path: /\.backendRef$/,
    control: 'agentgateway-policy-backend',
    target: SERVICE,
    controller:
      'controller/pkg/agentgateway/plugins/traffic_plugin.go BuildBackendRef → checkBackendRefGrant (JWKS: controller/pkg/agentgateway/jwks/resolver.go checkBackendRefGrant), from the AgentgatewayPolicy, only when AGW_BACKEND_REF_GRANT_MODE is route-and-policy: "backendRef NS/NAME not accessible to an AgentgatewayPolicy … (missing a ReferenceGrant?)", status PartiallyValid. (kgateway v2.2.0\'s agentgateway did not check these at all: pkg/agentgateway/plugins/traffic_plugin.go buildBackendRef.)',
  },
  {
    cite: 'agentgateway-backend-backend',
    group: AGENTGATEWAY,
    kinds: ['AgentgatewayBackend'],
    path: /\.backendRef$/,
    control: 'agentgateway-policy-backend',
    target: SERVICE,
    controller:
      'controller/pkg/syncer/backend/backend_plugin.go: PolicyCtx with SourceGVK AgentgatewayBackend → plugins.BuildBackendRef → checkBackendRefGrant, from the AgentgatewayBackend, only when AGW_BACKEND_REF_GRANT_MODE is route-and-policy.',
  },
  {
    cite: 'agentgateway-model-backend',
    group: AGENTGATEWAY,
    kinds: ['AgentgatewayModel'],
    path: /\.backendRef$/,
    control: 'agentgateway-policy-backend',
    target: SERVICE,
    controller:
      'controller/pkg/agentgateway/translator/model_collections.go translateInlineModelBackendPolicy sets PolicyCtx.RouteBackend, so BuildBackendRef resolves through DefaultRouteBackend (plugins/reference_indexes.go) with no grant check in any mode. The webhook is stricter: it treats these as policy backendRefs.',
  },
];
