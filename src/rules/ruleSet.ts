import type { ClusterView } from './clusterView.js';
import { crossNamespaceBackendRefRule } from './crossNamespaceBackendRefs.js';
import { deprecatedKindRule } from './deprecatedKinds.js';
import { gatewayParametersRefRule } from './gatewayParametersRef.js';
import { referenceGrantGuardRule } from './referenceGrantGuard.js';
import { appliesTo, type Rule } from './rule.js';
import type { RuleSettings } from './settings.js';
import { GATEWAY_API_GROUP, type AdmissionRequest, type Verdict } from './types.js';
import { allowed, combine, denied } from './verdicts.js';

export interface RuleSet {
  mutating: readonly Rule[];
  validating: readonly Rule[];
}

export function buildRuleSet(settings: RuleSettings): RuleSet {
  const versions = knownVersions(settings);
  return {
    mutating: withVersionGate([gatewayParametersRefRule(settings)], versions),
    validating: withVersionGate([crossNamespaceBackendRefRule(settings), referenceGrantGuardRule(settings), deprecatedKindRule(settings)], versions),
  };
}

/** The kinds the rules of these settings look at: Gateways, the kinds with backendRefs, ReferenceGrants. */
export function handledKinds(settings: Pick<RuleSettings, 'backendRefKinds' | 'scanKinds'>): { group: string; kind: string }[] {
  const kinds = [
    { group: GATEWAY_API_GROUP, kind: 'Gateway' },
    { group: GATEWAY_API_GROUP, kind: 'ReferenceGrant' },
    ...settings.backendRefKinds.map(({ group, kind }) => ({ group, kind })),
    ...settings.scanKinds.map(({ group, kind }) => ({ group, kind })),
  ];
  return [...new Map(kinds.map((k) => [`${k.group}/${k.kind}`, k])).values()];
}

/** Gateway API kinds the rules read, at the versions Gateway API v1.x serves them. */
const GATEWAY_API_VERSIONS = ['v1', 'v1beta1'] as const;

/**
 * `group/kind` → the versions whose schema the rules were written against.
 * A kind not in the map (config rows without `versions`, scanKinds) is read
 * at any version.
 */
export function knownVersions(settings: Pick<RuleSettings, 'backendRefKinds'>): ReadonlyMap<string, readonly string[]> {
  const known = new Map<string, readonly string[]>([
    [`${GATEWAY_API_GROUP}/Gateway`, GATEWAY_API_VERSIONS],
    [`${GATEWAY_API_GROUP}/ReferenceGrant`, GATEWAY_API_VERSIONS],
  ]);
  const rowVersions = new Map<string, string[] | null>();
  for (const row of settings.backendRefKinds) {
    const key = `${row.group}/${row.kind}`;
    const before = rowVersions.get(key);
    // One row of a kind without versions reads it at any version.
    rowVersions.set(key, before === null || !row.versions ? null : [...new Set([...(before ?? []), ...row.versions])]);
  }
  for (const [key, versions] of rowVersions) {
    if (versions) known.set(key, versions);
    else known.delete(key);
  }
  return known;
}

/**
 * The webhooks are registered for every version (`apiVersions: ["*"]`), so a
 * kgateway release that stops serving v1alpha1 cannot silently end
 * validation. A version the rules do not know may move the fields they read:
 * such a request is denied with a clear message instead of being read with
 * the wrong paths, or let through unread. The other rules see only known
 * versions.
 */
export function withVersionGate(rules: readonly Rule[], known: ReadonlyMap<string, readonly string[]>): Rule[] {
  // Asked once per rule per request: two map lookups, no key string built.
  const byGroup = new Map<string, Map<string, readonly string[]>>();
  for (const [key, versions] of known) {
    const slash = key.lastIndexOf('/');
    const group = key.slice(0, slash);
    let kinds = byGroup.get(group);
    if (!kinds) byGroup.set(group, (kinds = new Map()));
    kinds.set(key.slice(slash + 1), versions);
  }
  const isKnown = (request: AdmissionRequest): boolean => {
    const versions = byGroup.get(request.kind.group)?.get(request.kind.kind);
    return versions === undefined || versions.includes(request.kind.version);
  };
  const gate: Rule = {
    name: 'unknown-api-version',
    operations: [...new Set(rules.flatMap((rule) => rule.operations))],
    handles: (request) => !isKnown(request) && rules.some((rule) => appliesTo(rule, request)),
    decide(request) {
      const { group, version, kind } = request.kind;
      const versions = known.get(`${group}/${kind}`) ?? [];
      return denied(
        `kgateway-admission cannot check ${kind} at ${group ? `${group}/` : ''}${version}: it reads ${kind} only at ${versions.join(', ')}. ` +
          'Denied rather than admitted unchecked; upgrade kgateway-admission to a release that knows this version.',
        400,
      );
    },
  };
  return [gate, ...rules.map((rule) => ({ ...rule, handles: (request: AdmissionRequest) => isKnown(request) && rule.handles(request) }))];
}

/**
 * A list of rules is a rule: every rule that applies to the request (its
 * operations, then `handles`) decides, and
 * the verdicts are combined (deny wins, patches and warnings concatenate).
 */
export function decide(rules: readonly Rule[], request: AdmissionRequest, view: ClusterView): Verdict {
  const verdicts: Verdict[] = [];
  for (const rule of rules) {
    if (appliesTo(rule, request)) verdicts.push(rule.decide(request, view));
  }
  if (verdicts.length === 0) return allowed();
  return verdicts.length === 1 ? verdicts[0]! : combine(verdicts);
}

/** Whether any rule in the list looks at this request at all. */
export function isHandled(rules: readonly Rule[], request: AdmissionRequest): boolean {
  return rules.some((rule) => appliesTo(rule, request));
}
