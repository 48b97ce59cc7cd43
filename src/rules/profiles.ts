/**
 * What differs between kgateway releases for the webhook: the controller name
 * of agentgateway GatewayClasses and the kind that holds proxy parameters.
 * Since v2.2 agentgateway proxies read AgentgatewayParameters
 * (agentgateway.dev) instead of kgateway GatewayParameters, and the controller
 * is agentgateway.dev/agentgateway (the old name still accepted).
 */
export interface Profile {
  gatewayControllerNames: string[];
  parametersRef: { group: string; kind: string };
  /**
   * What `mutation.classParameters: auto` does with a Gateway whose class has
   * its own spec.parametersRef: `add` where the release's deployer applies
   * both the class's and the Gateway's parameters, `skip` where a Gateway's
   * ref can drop the class's settings (replicas, image, resources).
   */
  classParameters: 'add' | 'skip';
  /** Kinds the release deprecates: an object of one is admitted with a warning naming its replacement. */
  deprecatedKinds?: readonly DeprecatedKind[];
}

export interface DeprecatedKind {
  group: string;
  kind: string;
  /** The warning, under 120 characters (kubectl prints each on a line). */
  warning: string;
}

/*
 * How each release's deployer combines GatewayClass and Gateway parameters
 * (read in the kgateway Go module, github.com/kgateway-dev/kgateway/v2):
 *
 * kgateway-v2.1, GatewayParameters: internal/kgateway/deployer/gateway_parameters.go,
 *   kGatewayParameters.getGatewayParametersForGateway starts from the class's
 *   parameters (getDefaultGatewayParameters) and deep-merges the Gateway's on
 *   top (pkg/deployer/merge.go DeepMergeGatewayParameters), except that when
 *   the Gateway's GatewayParameters set kube.omitDefaultSecurityContext it
 *   starts again from the built-in defaults (GetInMemoryGatewayParameters) and
 *   the class's parameters are lost: kgateway#13065 (a class's replicas: 2
 *   vanish). v2.2.0 fixed that path (pkg/kgateway/deployer/gateway_parameters.go,
 *   same function; test/deployer/internal_helm_test.go "both GWC and GW have
 *   parametersRef"), but v2.1 releases have it, and the webhook cannot see
 *   inside the parameters object: so `skip`.
 *
 * agentgateway-v2.2, AgentgatewayParameters (v2.2.0):
 *   pkg/kgateway/deployer/agentgateway_parameters.go,
 *   agentgatewayParametersHelmValuesGenerator.resolveParameters keeps the
 *   class's and the Gateway's AgentgatewayParameters apart; GetValues applies
 *   the class's first and the Gateway's on top (ApplyToHelmValues: image field
 *   by field, env by name, resources and the other blocks whole), and
 *   pkg/kgateway/deployer/gateway_parameters.go GatewayParameters.PostProcessObjects
 *   applies their overlays in the same order. Both apply: so `add`. (Deeper
 *   merging came later: kgateway#13468, agentgateway#969.)
 */

/*
 * agentgateway-v1, standalone agentgateway 1.x (github.com/agentgateway/agentgateway
 *   v1.4.1, controller/pkg/deployer/agentgateway_parameters.go): GetValues applies
 *   the GatewayClass's AgentgatewayParameters first and the Gateway's on top
 *   (AgentgatewayParametersApplier.ApplyToHelmValues: env merged by name,
 *   resources and istio field by field), resolveParameters keeping them apart;
 *   a missing Gateway-level object fails the Gateway ("AgentgatewayParameters
 *   %s/%s not found for Gateway %s/%s"). Both apply: `add`. Controller name
 *   agentgateway.dev/agentgateway (controller/pkg/wellknown/controller.go
 *   DefaultAgwControllerName).
 *
 * kgateway-v2.3 and kgateway-v2.4, kgateway with the Envoy data plane only
 *   (kgateway 2.4 has no agentgateway code): GatewayParameters, controller
 *   kgateway.dev/kgateway (pkg/kgateway/wellknown/controller.go). v2.4.2
 *   pkg/kgateway/deployer/gateway_parameters.go getGatewayParametersForGateway
 *   deep-merges the Gateway's GatewayParameters over the class's
 *   (getDefaultGatewayParametersWithFlag, deployer.DeepMergeGatewayParameters):
 *   `add`. kgateway 2.4 deprecates HTTPListenerPolicy for ListenerPolicy.
 */
const GATEWAY_PARAMETERS = { group: 'gateway.kgateway.dev', kind: 'GatewayParameters' } as const;
const AGENTGATEWAY_PARAMETERS = { group: 'agentgateway.dev', kind: 'AgentgatewayParameters' } as const;

export const PROFILES = {
  'kgateway-v2.1': {
    gatewayControllerNames: ['kgateway.dev/agentgateway'],
    parametersRef: { group: 'gateway.kgateway.dev', kind: 'GatewayParameters' },
    classParameters: 'skip',
  },
  'agentgateway-v2.2': {
    gatewayControllerNames: ['agentgateway.dev/agentgateway', 'kgateway.dev/agentgateway'],
    parametersRef: AGENTGATEWAY_PARAMETERS,
    classParameters: 'add',
  },
  'kgateway-v2.3': {
    gatewayControllerNames: ['kgateway.dev/kgateway'],
    parametersRef: GATEWAY_PARAMETERS,
    classParameters: 'add',
  },
  'kgateway-v2.4': {
    gatewayControllerNames: ['kgateway.dev/kgateway'],
    parametersRef: GATEWAY_PARAMETERS,
    classParameters: 'add',
    deprecatedKinds: [
      {
        group: 'gateway.kgateway.dev',
        kind: 'HTTPListenerPolicy',
        warning: 'HTTPListenerPolicy is deprecated in kgateway 2.4 and removed after it: use ListenerPolicy (spec.default.httpSettings)',
      },
    ],
  },
  'agentgateway-v1': {
    gatewayControllerNames: ['agentgateway.dev/agentgateway'],
    parametersRef: AGENTGATEWAY_PARAMETERS,
    classParameters: 'add',
  },
} as const satisfies Record<string, Profile>;

export type ProfileName = keyof typeof PROFILES;

export const PROFILE_NAMES = Object.keys(PROFILES) as ProfileName[];

/** The profile of `check`, `audit` and a `serve` that cannot tell: the brief's v2.1 setup. */
export const DEFAULT_PROFILE: ProfileName = 'kgateway-v2.1';

export function isProfileName(name: string): name is ProfileName {
  return Object.hasOwn(PROFILES, name);
}

/** The kinds whose being served tells the releases apart. */
export interface ServedKinds {
  /** agentgateway.dev AgentgatewayParameters: kgateway 2.2's agentgateway, or agentgateway 1.x. */
  agentgatewayParameters: boolean;
  /** agentgateway.dev AgentgatewayModel: agentgateway 1.4 and later only. */
  agentgatewayModel: boolean;
  /** gateway.kgateway.dev GatewayParameters: any kgateway. */
  gatewayParameters: boolean;
  /** gateway.kgateway.dev ListenerPolicy: kgateway 2.2 and later. */
  listenerPolicy: boolean;
}

/** The kinds detectProfile asks the API server about, in ServedKinds' order. */
export const PROFILE_SIGNAL_KINDS: readonly { group: string; kind: string; key: keyof ServedKinds }[] = [
  { ...AGENTGATEWAY_PARAMETERS, key: 'agentgatewayParameters' },
  { group: 'agentgateway.dev', kind: 'AgentgatewayModel', key: 'agentgatewayModel' },
  { ...GATEWAY_PARAMETERS, key: 'gatewayParameters' },
  { group: 'gateway.kgateway.dev', kind: 'ListenerPolicy', key: 'listenerPolicy' },
];

/**
 * The profile a cluster is on, from the kinds it serves. Standalone
 * agentgateway serves no kgateway kind; agentgateway 1.4 adds
 * AgentgatewayModel. kgateway 2.2 serves its agentgateway's kinds beside its
 * own (so does kgateway 2.3/2.4 beside agentgateway 1.0–1.3: the kinds cannot
 * tell those apart, and agentgateway-v2.2 accepts both controller names).
 * kgateway with only its own kinds is 2.1 without ListenerPolicy and the
 * newest Envoy-only release with it (2.2 and 2.3 serve the same kinds: set
 * the profile on those).
 */
export function profileForServedKinds(served: ServedKinds): ProfileName {
  if (served.agentgatewayModel) return 'agentgateway-v1';
  if (served.agentgatewayParameters) return served.gatewayParameters ? 'agentgateway-v2.2' : 'agentgateway-v1';
  if (served.gatewayParameters && served.listenerPolicy) return 'kgateway-v2.4';
  return 'kgateway-v2.1';
}
