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
}

export const PROFILES = {
  'kgateway-v2.1': {
    gatewayControllerNames: ['kgateway.dev/agentgateway'],
    parametersRef: { group: 'gateway.kgateway.dev', kind: 'GatewayParameters' },
  },
  'agentgateway-v2.2': {
    gatewayControllerNames: ['agentgateway.dev/agentgateway', 'kgateway.dev/agentgateway'],
    parametersRef: { group: 'agentgateway.dev', kind: 'AgentgatewayParameters' },
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
