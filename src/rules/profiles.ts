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

export const PROFILES = {
  'kgateway-v2.1': {
    gatewayControllerNames: ['kgateway.dev/agentgateway'],
    parametersRef: { group: 'gateway.kgateway.dev', kind: 'GatewayParameters' },
    classParameters: 'skip',
  },
  'agentgateway-v2.2': {
    gatewayControllerNames: ['agentgateway.dev/agentgateway', 'kgateway.dev/agentgateway'],
    parametersRef: { group: 'agentgateway.dev', kind: 'AgentgatewayParameters' },
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

/** The profile a cluster is on, from whether it serves AgentgatewayParameters. */
export function profileForServedKinds(servesAgentgatewayParameters: boolean): ProfileName {
  return servesAgentgatewayParameters ? 'agentgateway-v2.2' : 'kgateway-v2.1';
}
