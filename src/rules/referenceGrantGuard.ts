import type { ClusterView, GrantEntries, Referrer } from './clusterView.js';
import { GrantLookup, grantEntries } from './referenceGrants.js';
import type { Rule } from './rule.js';
import type { RuleSettings } from './settings.js';
import { GATEWAY_API_GROUP, type AdmissionRequest, type Verdict } from './types.js';
import { allowed, denied, withWarnings } from './verdicts.js';
import { namespaceOf } from './objectRequest.js';

// Enough names for a person to act on; the rest are counted (the API server
// drops warnings past 4 KiB in all).
const MAX_NAMED_REFERRERS = 10;

/**
 * The objects that a ReferenceGrant currently lets refer into its namespace
 * and that would lose that permission once it is replaced by `next` (or
 * deleted, when `next` is undefined), no other grant in the namespace
 * allowing them either.
 */
export function referrersLosingGrant(
  view: ClusterView,
  namespace: string,
  grantName: string,
  previous: GrantEntries,
  next: GrantEntries | undefined,
): Referrer[] {
  // Linear in referrers and grants: each target is two map lookups, never a
  // pass over every other grant (4,000 referrers × 4,000 grants took 0.55 s,
  // stalling every admission behind one grant DELETE).
  const others = new GrantLookup(otherGrants(view.referenceGrantsIn(namespace), grantName));
  const before = new GrantLookup([previous]);
  const after = next ? new GrantLookup([next]) : undefined;
  const losing: Referrer[] = [];
  for (const referrer of view.referrersInto(namespace)) {
    const lost = referrer.targets.filter(
      (to) => before.allows(referrer.from, to) && !after?.allows(referrer.from, to) && !others.allows(referrer.from, to),
    );
    if (lost.length > 0) losing.push({ ...referrer, targets: lost });
  }
  return losing.sort((a, b) => `${a.from.namespace}/${a.name}`.localeCompare(`${b.from.namespace}/${b.name}`));
}

function* otherGrants(grants: ReadonlyMap<string, GrantEntries>, except: string): Iterable<GrantEntries> {
  for (const [name, entries] of grants) if (name !== except) yield entries;
}

function describe(referrer: Referrer): string {
  return `${referrer.from.kind} ${referrer.from.namespace}/${referrer.name}`;
}

/**
 * Guards ReferenceGrants that existing objects depend on: an UPDATE or DELETE
 * that would take away a permission in use is admitted with a warning naming
 * the objects that break, instead of leaving them to fail later in kgateway's
 * status conditions. `grantGuard: deny` denies such an UPDATE, never a
 * DELETE: a grant is its namespace owner's consent, so a referrer in another
 * namespace must not be able to keep its owner from revoking it, nor hold a
 * Namespace in Terminating (the namespace controller deletes its grants).
 */
export function referenceGrantGuardRule(settings: Pick<RuleSettings, 'grantGuard'>): Rule {
  return {
    name: 'reference-grant-guard',
    operations: ['UPDATE', 'DELETE'],
    handles: (request) => settings.grantGuard !== 'off' && request.kind.group === GATEWAY_API_GROUP && request.kind.kind === 'ReferenceGrant',
    decide(request: AdmissionRequest, view: ClusterView): Verdict {
      const old = request.oldObject;
      if (!old) return allowed();
      const namespace = namespaceOf(old, request.namespace);
      const name = old.metadata?.name || request.name || '';
      const next = request.operation === 'DELETE' ? undefined : grantEntries(request.object?.spec);
      const losing = referrersLosingGrant(view, namespace, name, grantEntries(old.spec), next);
      if (losing.length === 0) return allowed();
      const verb = request.operation === 'DELETE' ? 'deleting' : 'this change to';
      if (settings.grantGuard === 'deny' && request.operation !== 'DELETE') {
        return denied(
          [
            `${verb} ReferenceGrant ${namespace}/${name} would break ${losing.length} object(s) that refer into ${namespace} through it:`,
            ...losing.map((r) => `- ${describe(r)} -> ${r.targets.map((t) => `${t.kind} ${t.name}`).join(', ')}`),
            'Change or delete those objects first (deleting the grant is never refused), or set validation.grantGuard to warn.',
          ].join('\n'),
        );
      }
      const named = losing.slice(0, MAX_NAMED_REFERRERS).map((r) => `${verb} ReferenceGrant ${namespace}/${name} breaks ${describe(r)}`);
      const rest = losing.length - named.length;
      return withWarnings(allowed(), ...named, ...(rest > 0 ? [`…and ${rest} more objects that depend on ReferenceGrant ${namespace}/${name}`] : []));
    },
  };
}
