import type { Enforcement } from './enforcement.js';
import type { GrantControl, GrantModes } from './grantModes.js';
import type { DeprecatedKind } from './profiles.js';

/** The part of the configuration that decisions depend on. */
export interface ParametersRef {
  group: string;
  kind: string;
  name: string;
}

export interface BackendRefKind {
  group: string;
  kind: string;
  /**
   * Where backendRefs sit, as dotted paths from the object root; a segment
   * ending in `[]` is an array whose every item is visited.
   */
  paths: string[];
  /**
   * The API versions whose schema `paths` was read from. A request for the
   * kind at another version is denied (the paths may not hold there); unset,
   * every version is read with these paths.
   */
  versions?: readonly string[];
  /**
   * Per path (a key of `paths`): what a ref there names when it leaves group
   * and kind out, the controller setting that decides whether it needs a
   * grant, and the grant's `from` when the controller checks it as another
   * object. The built-in rows have one for every path; a path without one
   * holds a Gateway API BackendObjectReference (core Service by default)
   * that always needs a grant.
   */
  sites?: Readonly<Record<string, BackendRefSite>>;
}

export interface BackendRefSite {
  target: { group: string; kind: string };
  control?: GrantControl;
  grantFrom?: { group: string; kind: string };
}

export interface RuleSettings {
  gatewayClassNames: string[];
  gatewayControllerNames: string[];
  parametersRef: ParametersRef;
  /** For a Gateway whose GatewayClass has its own parametersRef: add ours too (with a warning), or leave it (with a warning). */
  classParameters: 'add' | 'skip';
  backendRefKinds: BackendRefKind[];
  /** Kinds searched for any backendRef/backendRefs field in their spec. */
  scanKinds: { group: string; kind: string }[];
  grantGuard: 'warn' | 'deny' | 'off';
  /** The controllers' ReferenceGrant modes the webhook follows (which refs need a grant). */
  grantModes: GrantModes;
  /** What an ungranted backendRef gets where no Namespace label says otherwise. */
  enforcement: Enforcement;
  /** Warn when a Gateway is left without the parametersRef because the object is missing from its namespace. */
  missingParametersWarning: boolean;
  /** Kinds the profile's release deprecates, admitted with a warning. */
  deprecatedKinds: readonly DeprecatedKind[];
  /**
   * mutation.copyParameters: when set, a copy of the parameters object in
   * `sourceNamespace` is kept in every namespace with a matching Gateway, so
   * the ref is added even where the object is not there yet.
   */
  copyParameters?: { sourceNamespace: string };
}
