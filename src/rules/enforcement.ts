import type { ClusterView } from './clusterView.js';

/**
 * What an ungranted cross-namespace backendRef gets: a denial, or admission
 * with a warning per ref while a rollout is under way (Gatekeeper's
 * `enforcementAction: warn`, Kyverno's Audit).
 */
export type Enforcement = 'deny' | 'warn';

/** The label on a Namespace that overrides `validation.enforcement` for the objects in it. */
export const ENFORCEMENT_LABEL = 'kgateway-admission.dev/enforcement';

export interface EnforcementInForce {
  mode: Enforcement;
  /** A label value that is neither deny nor warn; it is enforced as deny. */
  invalidLabel?: string;
}

/**
 * The enforcement for an object in `namespace`: its Namespace's label when
 * set, else the configured default. A label value that is neither deny nor
 * warn is a typo, not an opt-out: it enforces deny (validation fails closed).
 */
export function enforcementIn(namespace: string, settings: { enforcement: Enforcement }, view: ClusterView): EnforcementInForce {
  const label = view.namespaceEnforcement(namespace);
  if (label === undefined) return { mode: settings.enforcement };
  if (label === 'deny' || label === 'warn') return { mode: label };
  return { mode: 'deny', invalidLabel: label };
}
