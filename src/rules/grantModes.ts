/**
 * The controllers' ReferenceGrant modes, and what each asks of the webhook.
 *
 * kgateway: `KGW_REFERENCE_GRANT_MODE` (api/settings/settings.go,
 * ReferenceGrantMode; default PERMISSIVE). OFF checks nothing
 * (pkg/krtcollections/policy.go RefGrantIndex.ReferenceAllowed returns true);
 * PERMISSIVE requires a grant for cross-namespace backendRefs and secretRefs;
 * STRICT also for extensionRefs (pkg/kgateway/extensions2/plugins/trafficpolicy/
 * constructor.go FetchGatewayExtension, TrafficPolicy → GatewayExtension).
 *
 * agentgateway: `AGW_BACKEND_REF_GRANT_MODE` (controller/api/settings/settings.go,
 * BackendRefGrantMode; default `route`). `route-and-policy` requires a grant
 * for Route → backend and for policy → backend
 * (RequirePolicyBackendGrant; controller/pkg/agentgateway/plugins/traffic_plugin.go
 * BuildBackendRef → checkBackendRefGrant), `route` only for routes, `none` for
 * neither. "Secret refs always require ReferenceGrant".
 */
export const KGATEWAY_GRANT_MODES = ['OFF', 'PERMISSIVE', 'STRICT'] as const;
export const AGENTGATEWAY_GRANT_MODES = ['route-and-policy', 'route', 'none'] as const;

export type KgatewayGrantMode = (typeof KGATEWAY_GRANT_MODES)[number];
export type AgentgatewayGrantMode = (typeof AGENTGATEWAY_GRANT_MODES)[number];

export interface GrantModes {
  kgateway: KgatewayGrantMode;
  agentgateway: AgentgatewayGrantMode;
}

/**
 * The webhook's defaults: kgateway's own default, and for agentgateway the
 * strict mode rather than its default `route`, since enforcing grants on
 * policy refs is what this webhook is for.
 */
export const DEFAULT_GRANT_MODES: GrantModes = { kgateway: 'PERMISSIVE', agentgateway: 'route-and-policy' };

/**
 * Which of the controller's settings decides whether a reference at a site
 * needs a ReferenceGrant:
 * - `kgateway-backend`, `kgateway-secret`: required unless kgateway's mode is OFF;
 * - `kgateway-extension`: required only in STRICT;
 * - `agentgateway-policy-backend`: a backendRef in an agentgateway policy,
 *   backend or model: required under `route-and-policy`;
 * - `agentgateway-secret`: always required.
 */
export type GrantControl = 'kgateway-backend' | 'kgateway-secret' | 'kgateway-extension' | 'agentgateway-policy-backend' | 'agentgateway-secret';

export const GRANT_CONTROLS: readonly GrantControl[] = ['kgateway-backend', 'kgateway-secret', 'kgateway-extension', 'agentgateway-policy-backend', 'agentgateway-secret'];

/**
 * What the webhook does with a cross-namespace reference at a site of this
 * control that no grant allows:
 * - `required`: deny (or warn, per enforcement), as the controller would refuse it;
 * - `unchecked`: admit with a warning, because the controller in this mode
 *   does not check it either (agentgateway `route`: policy backendRefs);
 * - `not-required`: admit; the controller in this mode needs no grant.
 * A reference with no control (a config row, a scanned kind) is `required`.
 */
export type GrantRequirement = 'required' | 'unchecked' | 'not-required';

export function grantRequirement(control: GrantControl | undefined, modes: GrantModes): GrantRequirement {
  switch (control) {
    case undefined:
    case 'agentgateway-secret':
      return 'required';
    case 'kgateway-backend':
    case 'kgateway-secret':
      return modes.kgateway === 'OFF' ? 'not-required' : 'required';
    case 'kgateway-extension':
      return modes.kgateway === 'STRICT' ? 'required' : 'not-required';
    case 'agentgateway-policy-backend':
      return modes.agentgateway === 'route-and-policy' ? 'required' : modes.agentgateway === 'route' ? 'unchecked' : 'not-required';
  }
}

/** The environment variable and value that put the controller in the mode a control depends on. */
export function controllerSetting(control: GrantControl, modes: GrantModes): string {
  return control.startsWith('kgateway') ? `KGW_REFERENCE_GRANT_MODE=${modes.kgateway}` : `AGW_BACKEND_REF_GRANT_MODE=${modes.agentgateway}`;
}
