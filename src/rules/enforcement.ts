import type { ClusterView } from './clusterView.js';

/**
 * What an ungranted cross-namespace backendRef gets: a denial, or admission
 * with a warning per ref while a rollout is under way (Gatekeeper's
 * `enforcementAction: warn`, Kyverno's Audit).
 */
export type Enforcement = 'deny' | 'warn';

/** The label on a Namespace that sets enforcement for the refs into it, and for its own objects' refs into unlabelled Namespaces. */
export const ENFORCEMENT_LABEL = 'kgateway-admission.dev/enforcement';

export interface EnforcementInForce {
  mode: Enforcement;
  /** Why, where a label decided against what the referrer might expect: a target labelled deny, or a value that is neither deny nor warn. For the denial message. */
  notes: string[];
}

// A denial names a few namespaces; the rest are counted.
const MAX_NOTED_NAMESPACES = 5;

type Label = { mode: Enforcement; invalid?: string } | undefined;

function labelOf(namespace: string, view: ClusterView): Label {
  const value = view.namespaceEnforcement(namespace);
  if (value === undefined) return undefined;
  // Any other value is a typo, not an opt-out: it enforces deny (validation fails closed).
  return value === 'deny' || value === 'warn' ? { mode: value } : { mode: 'deny', invalid: value };
}

function named(namespaces: readonly string[]): string {
  const listed = namespaces.slice(0, MAX_NOTED_NAMESPACES).join(', ');
  return namespaces.length > MAX_NOTED_NAMESPACES ? `${listed} and ${namespaces.length - MAX_NOTED_NAMESPACES} more` : listed;
}

/**
 * The enforcement step: what the ungranted refs of an object in namespace
 * `source` into `targets` get. The target's owner has the last word: a
 * target Namespace's label decides the refs into it, whatever the source says
 * (so labelling one's own namespace `warn` reaches no namespace labelled
 * `deny`); into an unlabelled target, the source Namespace's label decides,
 * else `validation.enforcement`. The object is admitted with warnings only if
 * every ungranted ref is in warn; one ref in deny denies it. Linear in the
 * targets: each Namespace's label is read once.
 */
export function enforcementFor(source: string, targets: Iterable<string>, settings: { enforcement: Enforcement }, view: ClusterView): EnforcementInForce {
  const sourceLabel = labelOf(source, view);
  const sourceMode = sourceLabel?.mode ?? settings.enforcement;
  const deniedByTarget: string[] = [];
  const invalid = new Map<string, string>();
  let mode: Enforcement = 'warn';
  let sourceDecides = false;
  const seen = new Set<string>();
  for (const target of targets) {
    if (seen.has(target)) continue;
    seen.add(target);
    const label = labelOf(target, view);
    if (label === undefined) {
      sourceDecides = true;
      if (sourceMode === 'deny') mode = 'deny';
      continue;
    }
    if (label.invalid !== undefined) invalid.set(target, label.invalid);
    if (label.mode === 'deny') {
      mode = 'deny';
      if (label.invalid === undefined && sourceMode === 'warn') deniedByTarget.push(target);
    }
  }
  const notes: string[] = [];
  if (mode === 'deny') {
    if (sourceLabel?.invalid !== undefined && sourceDecides) invalid.set(source, sourceLabel.invalid);
    for (const [namespace, value] of [...invalid].slice(0, MAX_NOTED_NAMESPACES)) {
      notes.push(`(Namespace ${namespace} has label ${ENFORCEMENT_LABEL}=${JSON.stringify(value)}, which is neither deny nor warn: enforced as deny.)`);
    }
    if (deniedByTarget.length > 0) {
      const one = deniedByTarget.length === 1;
      const who = one ? `Namespace ${deniedByTarget[0]} has` : `Namespaces ${named(deniedByTarget)} have`;
      notes.push(`(${who} label ${ENFORCEMENT_LABEL}=deny: refs into ${one ? 'it' : 'them'} are denied without a grant, whatever the referring namespace's enforcement.)`);
    }
  }
  return { mode, notes };
}
