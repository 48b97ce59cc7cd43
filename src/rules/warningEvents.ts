import type { ClusterView, GrantEntries } from './clusterView.js';
import { referrersLosingGrant } from './referenceGrantGuard.js';
import { grantEntries } from './referenceGrants.js';
import { GATEWAY_API_GROUP, type AdmissionRequest, type Verdict } from './types.js';
import { namespaceOf } from './objectRequest.js';

/** An object an event is about, by group, kind, namespace and name. */
export interface EventObject {
  group: string;
  kind: string;
  namespace: string;
  name: string;
}

/**
 * A Warning event to record (events.k8s.io/v1) once the write it comes from
 * has happened: `regarding` must exist then, and for a grant change the grant
 * must be gone (`grantDeleted`) or changed from `grantResourceVersion`.
 */
export interface WarningEvent {
  regarding: EventObject;
  reason: 'AdmittedWithWarnings' | 'ReferenceGrantRemoved';
  action: 'Admitted' | 'ReferenceGrantDeleted' | 'ReferenceGrantUpdated';
  note: string;
  related?: EventObject;
  /** The write must have taken effect: the grant deleted, or its entries changed from `previous`. */
  after?: { grant: EventObject; deleted: boolean; previous: GrantEntries };
}

// events.k8s.io/v1 caps note at 1 KiB.
const MAX_NOTE = 1024;
// A grant that many objects lean on: enough events to be seen, not a flood.
export const MAX_DEPENDANT_EVENTS = 100;

function note(text: string): string {
  return text.length <= MAX_NOTE ? text : `${text.slice(0, MAX_NOTE - 1)}…`;
}

/**
 * The Warning events an admitted request calls for: the object itself when it
 * was admitted with warnings (kubectl shows warnings once, to whoever applied
 * it; an event stays on the object for `kubectl describe` and event
 * exporters), and each object that a ReferenceGrant's update or deletion
 * leaves without the permission it uses (kgateway itself only reports that
 * in a status condition, when at all: kgateway#10857, #11438).
 * A dry run changes nothing, so it records nothing.
 */
export function warningEvents(request: AdmissionRequest, verdict: Verdict, view: ClusterView): WarningEvent[] {
  if (request.dryRun || !verdict.allowed || verdict.warnings.length === 0) return [];
  const isGrant = request.kind.group === GATEWAY_API_GROUP && request.kind.kind === 'ReferenceGrant';
  if (isGrant && (request.operation === 'UPDATE' || request.operation === 'DELETE') && request.oldObject) {
    const old = request.oldObject;
    const namespace = namespaceOf(old, request.namespace);
    const name = old.metadata?.name || request.name || '';
    const deleted = request.operation === 'DELETE';
    const losing = referrersLosingGrant(view, namespace, name, grantEntries(old.spec), deleted ? undefined : grantEntries(request.object?.spec));
    const grant: EventObject = { group: GATEWAY_API_GROUP, kind: 'ReferenceGrant', namespace, name };
    const previous = grantEntries(old.spec);
    return losing.slice(0, MAX_DEPENDANT_EVENTS).map((referrer) => ({
      regarding: { group: referrer.from.group, kind: referrer.from.kind, namespace: referrer.from.namespace, name: referrer.name },
      reason: 'ReferenceGrantRemoved',
      action: deleted ? 'ReferenceGrantDeleted' : 'ReferenceGrantUpdated',
      related: grant,
      note: note(
        `ReferenceGrant ${namespace}/${name} was ${deleted ? 'deleted' : 'changed'}; no grant now allows ${referrer.targets
          .map((t) => `${t.kind} ${t.namespace}/${t.name}`)
          .join(', ')}, so kgateway drops these refs. Restore the grant, or run kgateway-admission audit for the ReferenceGrant to create.`,
      ),
      after: { grant, deleted, previous },
    }));
  }
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return [];
  const name = request.object?.metadata?.name || request.name;
  // A generateName object has no name until it is stored: nothing to point at.
  if (!name) return [];
  return [
    {
      regarding: { group: request.kind.group, kind: request.kind.kind, namespace: request.object?.metadata?.namespace || request.namespace || '', name },
      reason: 'AdmittedWithWarnings',
      action: 'Admitted',
      note: note(verdict.warnings.join('; ')),
    },
  ];
}

/**
 * Whether a grant change an event is about has happened, judged on the
 * watch-fed view (no read of the grant itself): the grant is gone, or its
 * entries are no longer the ones it had. A refused or dry-run write leaves it
 * as it was.
 */
export function grantChangeTookEffect(view: ClusterView, after: NonNullable<WarningEvent['after']>): boolean {
  const current = [...view.referenceGrantsIn(after.grant.namespace)].find(([name]) => name === after.grant.name)?.[1];
  if (after.deleted) return current === undefined;
  return current !== undefined && JSON.stringify(current) !== JSON.stringify(after.previous);
}
