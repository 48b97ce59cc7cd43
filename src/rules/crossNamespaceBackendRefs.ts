import { isDeepStrictEqual } from 'node:util';
import type { ClusterView, ReferenceFrom, ReferenceTo } from './clusterView.js';
import { enforcementFor } from './enforcement.js';
import { compilePath, MAX_SCAN_DEPTH, scanBackendRefs, valuesAt, type CompiledPath, type FoundValue } from './objectPaths.js';
import { kubectlYaml } from './kubectlYaml.js';
import { suggestedReferenceGrant } from './referenceGrantSuggestion.js';
import { objectName, objectNamespace, type Rule } from './rule.js';
import type { BackendRefKind, BackendRefSite, RuleSettings } from './settings.js';
import { controllerSetting, grantRequirement, type GrantModes } from './grantModes.js';
import type { AdmissionRequest, KubeObject, Verdict } from './types.js';
import { allowed, denied, withWarnings } from './verdicts.js';
import { isRecord } from './objectPaths.js';
import { isGroupName, isKindName, isNamespaceName, isObjectName, quoted } from './kubernetesNames.js';

export interface BackendRef {
  location: string;
  target: ReferenceTo;
  /** What the table says of the site the ref was found at; none for config rows and scanned kinds. */
  site?: BackendRefSite;
}

function stringOr(value: unknown, fallback: string): string {
  return typeof value === 'string' && value !== '' ? value : fallback;
}

function toBackendRef({ value, location }: FoundValue, ownNamespace: string, site?: BackendRefSite): BackendRef | undefined {
  if (!isRecord(value)) return undefined;
  return {
    location,
    target: {
      group: typeof value.group === 'string' ? value.group : (site?.target.group ?? ''),
      kind: stringOr(value.kind, site?.target.kind ?? 'Service'),
      namespace: stringOr(value.namespace, ownNamespace),
      name: typeof value.name === 'string' ? value.name : '',
    },
    ...(site ? { site } : {}),
  };
}

/**
 * Every backendRef at the given paths, with the defaults of its site (`sites`,
 * by index of `paths`) or else Gateway API BackendObjectReference defaults
 * applied: group "" (core), kind Service; namespace the referrer's.
 */
export function backendRefsOf(object: unknown, paths: readonly CompiledPath[], ownNamespace: string, sites: readonly (BackendRefSite | undefined)[] = []): BackendRef[] {
  const refs: BackendRef[] = [];
  paths.forEach((path, i) => {
    for (const found of valuesAt(object, path)) {
      const ref = toBackendRef(found, ownNamespace, sites[i]);
      if (ref) refs.push(ref);
    }
  });
  return refs;
}

/** An object nested beyond what the scan reads; it cannot be checked, so it is not admitted. */
export class TooDeeplyNestedError extends Error {}

/** Finds the backendRefs of an object of a given kind, or undefined for kinds it does not know. */
export type BackendRefExtractor = (group: string, kind: string, object: unknown, ownNamespace: string) => BackendRef[] | undefined;

/**
 * The table's paths for kinds that have a row, and a search of the whole spec
 * for the `scanKinds` that have none.
 */
export function backendRefExtractor(kinds: readonly BackendRefKind[], scanKinds: readonly { group: string; kind: string }[] = []): BackendRefExtractor {
  const compiled = new Map<string, CompiledPath[]>();
  const siteOf = new Map<string, (BackendRefSite | undefined)[]>();
  for (const row of kinds) {
    const key = `${row.group}/${row.kind}`;
    compiled.set(key, [...(compiled.get(key) ?? []), ...row.paths.map(compilePath)]);
    siteOf.set(key, [...(siteOf.get(key) ?? []), ...row.paths.map((p) => row.sites?.[p])]);
  }
  const scanned = new Set(scanKinds.map((k) => `${k.group}/${k.kind}`).filter((key) => !compiled.has(key)));
  return (group, kind, object, ownNamespace) => {
    const key = `${group}/${kind}`;
    const paths = compiled.get(key);
    if (paths) return backendRefsOf(object, paths, ownNamespace, siteOf.get(key));
    if (!scanned.has(key)) return undefined;
    const spec = isRecord(object) ? object.spec : undefined;
    const scan = scanBackendRefs(spec, 'spec');
    if (scan.tooDeep) throw new TooDeeplyNestedError(`spec nests deeper than ${MAX_SCAN_DEPTH} levels, past what is searched for backendRefs`);
    return scan.found.flatMap((found) => toBackendRef(found, ownNamespace) ?? []);
  };
}

/**
 * Why a cross-namespace backendRef cannot name a real object, or undefined.
 * Checked before any grant is looked up: the namespace keys the grant index and
 * the API reads made before a denial, so only a real namespace name may reach
 * them; and every part of the target is written into the denial, so only
 * well-formed ones may reach it (a kind from a CRD without enum limits may hold
 * newlines, which would add lines of the sender's choosing to the message).
 */
export function malformedTarget(target: ReferenceTo): string | undefined {
  if (!isGroupName(target.group)) {
    return `group ${quoted(target.group)} is not a valid API group (empty for the core group, or an RFC 1123 subdomain: lowercase letters, digits, '-' and '.')`;
  }
  if (!isKindName(target.kind)) {
    return `kind ${quoted(target.kind)} is not a valid kind (at most 63 letters, digits or '-', starting with a letter and ending with a letter or digit)`;
  }
  if (!isNamespaceName(target.namespace)) {
    return `namespace ${quoted(target.namespace)} is not a valid namespace name (an RFC 1123 label: at most 63 lowercase letters, digits or '-', starting and ending with a letter or digit)`;
  }
  if (!isObjectName(target.name)) {
    return `name ${quoted(target.name)} is not a valid object name (an RFC 1123 subdomain: at most 253 lowercase letters, digits, '-' or '.', starting and ending with a letter or digit)`;
  }
  return undefined;
}

/**
 * Who a ReferenceGrant must let refer to the ref's target: the referrer, or
 * the object the controller checks it as (kgateway: a ListenerPolicy's CA
 * certificate refs as its Gateway), in the referrer's namespace.
 */
export function grantFromFor(ref: BackendRef, from: ReferenceFrom): ReferenceFrom {
  const other = ref.site?.grantFrom;
  return other ? { group: other.group, kind: other.kind, namespace: from.namespace } : from;
}

/** The backendRefs of `from` that cross into another namespace with no grant. */
export function ungrantedBackendRefs(refs: readonly BackendRef[], from: ReferenceFrom, view: ClusterView): BackendRef[] {
  return refs.filter((ref) => ref.target.namespace !== from.namespace && !view.isReferenceGranted(grantFromFor(ref, from), ref.target));
}

function describeTarget(target: ReferenceTo): string {
  const kind = target.group === '' ? target.kind : `${target.kind}.${target.group}`;
  return `${kind} ${target.namespace}/${target.name}`;
}

// A person reads the first few refs and grants; thousands of lines cost
// seconds to build and are cut by the message cap anyway. The verdict keeps
// the suggested grants for check and audit to print as JSON, up to a bound so
// that a request of 27,000 refs (what fits in the body limit) is decided in
// bounded time: no real object lacks a grant for a thousand distinct targets.
const MAX_LISTED_REFS = 50;
const MAX_SHOWN_GRANTS = 20;
const MAX_SUGGESTED_GRANTS = 1_000;

/** The refs that no grant allows, on one line for the decision log (names and paths only). */
function missingGrantReason(missing: readonly BackendRef[]): string {
  const listed = missing.slice(0, MAX_LISTED_REFS).map((ref) => `${ref.location} -> ${describeTarget(ref.target)}`);
  const more = missing.length > listed.length ? `; …and ${missing.length - listed.length} more` : '';
  return `no ReferenceGrant allows ${listed.join('; ')}${more}`;
}

/**
 * One ReferenceGrant per missing (from, target), each under a name of its
 * own, for the first MAX_SUGGESTED_GRANTS targets. `more` says there are
 * targets past those: they are neither built nor counted, so a request of
 * tens of thousands of refs costs no more than one of a thousand. A ref
 * without a name gets none: a grant with no name would allow every object of
 * the kind.
 */
function suggestedGrants(from: ReferenceFrom, missing: readonly BackendRef[], view: ClusterView): { grants: KubeObject[]; more: boolean } {
  const seen = new Set<string>();
  const grants: KubeObject[] = [];
  for (const ref of missing) {
    const { target } = ref;
    if (target.name === '') continue;
    const grantFrom = grantFromFor(ref, from);
    const key = `${grantFrom.group}\0${grantFrom.kind}\0${target.group}\0${target.kind}\0${target.namespace}\0${target.name}`;
    if (seen.has(key)) continue;
    if (grants.length === MAX_SUGGESTED_GRANTS) return { grants, more: true };
    seen.add(key);
    grants.push(suggestedReferenceGrant(grantFrom, target, view));
  }
  return { grants, more: false };
}

function createLine(grants: readonly KubeObject[], more: boolean): string {
  const namespaces = [...new Set(grants.map((g) => g.metadata!.namespace!))].sort();
  if (grants.length === 1 && !more) return `Create this ReferenceGrant in namespace ${namespaces[0]} to allow it:`;
  const where = namespaces.length === 1 ? `namespace ${namespaces[0]}` : `namespaces ${namespaces.slice(0, MAX_LISTED_REFS).join(', ')}${namespaces.length > MAX_LISTED_REFS ? ', …' : ''}`;
  const shown = grants.length > MAX_SHOWN_GRANTS ? `; the first ${MAX_SHOWN_GRANTS} follow (kgateway-admission check --output json lists ${more ? `the first ${grants.length}` : 'every one'})` : '';
  if (more) return `Create one ReferenceGrant per target, more than ${grants.length} in all, to allow them; the first ${grants.length} go in ${where}${shown}:`;
  return `Create these ${grants.length} ReferenceGrants, one per target, in ${where} to allow them${shown}:`;
}

export function deniedForMissingGrant(
  from: ReferenceFrom,
  name: string,
  missing: readonly BackendRef[],
  view: ClusterView,
  notes: readonly string[] = [],
): Verdict {
  const listed = missing.slice(0, MAX_LISTED_REFS);
  const lines = [
    `${from.kind} ${from.namespace}/${name} refers to objects in other namespaces that no ReferenceGrant allows:`,
    ...listed.map((ref) => `- ${ref.location}: ${describeTarget(ref.target)}`),
    ...(missing.length > listed.length ? [`- …and ${missing.length - listed.length} more`] : []),
  ];
  const { grants: suggestions, more } = suggestedGrants(from, missing, view);
  if (suggestions.length > 0) {
    lines.push(createLine(suggestions, more));
    lines.push(suggestions.slice(0, MAX_SHOWN_GRANTS).map((grant) => kubectlYaml(grant).trimEnd()).join('\n---\n'));
  }
  lines.push(...notes);
  return { ...denied(lines.join('\n')), reason: missingGrantReason(missing), ...(suggestions.length > 0 ? { suggestions } : {}) };
}

// The API server keeps each warning under 120 characters in kubectl's output
// and drops all of them past 4 KiB (see facts: webhook warnings); ten named
// refs and a count stay well inside that, beside other rules' warnings.
const MAX_WARNING_LENGTH = 120;
const MAX_WARNED_REFS = 10;
const WARNING_PREFIX = 'admitted in warn mode: no ReferenceGrant allows ';

function warningFor(target: ReferenceTo): string {
  const ref = [...describeTarget(target)];
  const room = MAX_WARNING_LENGTH - WARNING_PREFIX.length;
  return WARNING_PREFIX + (ref.length <= room ? ref.join('') : `${ref.slice(0, room - 1).join('')}…`);
}

/**
 * Warn mode: admitted, with one warning per target that no grant allows (as
 * kubectl prints them: `Warning: …`), and counted as warned. It keeps the
 * message and suggested grants of `denial`, the verdict deny mode gives: what
 * `audit` and `check` report, since kgateway still refuses the refs.
 */
export function warnedForMissingGrant(missing: readonly BackendRef[], denial?: Verdict): Verdict {
  const warnings = [...new Set(missing.map((ref) => warningFor(ref.target)))];
  const named = warnings.slice(0, MAX_WARNED_REFS);
  const rest = warnings.length - named.length;
  const verdict = withWarnings(allowed(), ...named, ...(rest > 0 ? [`admitted in warn mode: ${rest} more refs that no ReferenceGrant allows`] : []));
  return {
    ...verdict,
    warned: true,
    reason: missingGrantReason(missing),
    ...(denial?.message !== undefined ? { message: denial.message } : {}),
    ...(denial?.suggestions ? { suggestions: denial.suggestions } : {}),
  };
}

const UNCHECKED_PREFIX = 'admitted: the controller does not check it either, no ReferenceGrant allows ';

/**
 * Refs whose controller, in the mode in force, needs no grant for them while
 * the webhook would (agentgateway `route`: policy backendRefs): admitted,
 * with one warning per target and the setting named in the decision log, so
 * that nobody mistakes the admission for a check.
 */
export function uncheckedWithoutGrant(missing: readonly BackendRef[], modes: GrantModes): Verdict {
  const room = MAX_WARNING_LENGTH - UNCHECKED_PREFIX.length;
  const warnings = [
    ...new Set(
      missing.map((ref) => {
        const target = [...describeTarget(ref.target)];
        return UNCHECKED_PREFIX + (target.length <= room ? target.join('') : `${target.slice(0, room - 1).join('')}…`);
      }),
    ),
  ];
  const named = warnings.slice(0, MAX_WARNED_REFS);
  const rest = warnings.length - named.length;
  const settings = [...new Set(missing.map((ref) => controllerSetting(ref.site!.control!, modes)))].join(', ');
  const verdict = withWarnings(allowed(), ...named, ...(rest > 0 ? [`admitted: ${rest} more refs that no ReferenceGrant allows and the controller does not check`] : []));
  return { ...verdict, warned: true, reason: `${missingGrantReason(missing)} (not checked by the controller under ${settings})` };
}

function isBeingDeleted(request: AdmissionRequest): boolean {
  return request.operation === 'UPDATE' && Boolean(request.object?.metadata?.deletionTimestamp);
}

const targetKey = (t: ReferenceTo): string => JSON.stringify([t.group, t.kind, t.namespace, t.name]);

/** The targets of the object before this update; none when there is no readable old object (so every ref is checked). */
function previousRefs(request: AdmissionRequest, from: ReferenceFrom, extract: BackendRefExtractor): Set<string> {
  const old = request.oldObject;
  if (!old) return new Set();
  try {
    return new Set((extract(from.group, from.kind, old, from.namespace) ?? []).map((ref) => targetKey(ref.target)));
  } catch {
    return new Set();
  }
}

function refsNotIn(refs: readonly BackendRef[], previous: ReadonlySet<string>): BackendRef[] {
  return refs.filter((ref) => !previous.has(targetKey(ref.target)));
}

/**
 * Rejects an object whose backendRefs point into another namespace unless a
 * ReferenceGrant there allows it (Gateway API GEP-709), naming the grant to
 * create. kgateway itself only reports this later, as a status condition.
 * Where enforcement is warn for every ungranted ref (see enforcementFor: the
 * target Namespace's label, else the object's own Namespace's, else the
 * config), it admits the object with a warning per ref instead.
 */
export function crossNamespaceBackendRefRule(settings: Pick<RuleSettings, 'backendRefKinds' | 'scanKinds' | 'enforcement' | 'grantModes'>): Rule {
  const extract = backendRefExtractor(settings.backendRefKinds, settings.scanKinds);
  const handledKinds = new Set([...settings.backendRefKinds, ...settings.scanKinds].map((k) => `${k.group}/${k.kind}`));
  return {
    name: 'cross-namespace-backend-refs',
    operations: ['CREATE', 'UPDATE'],
    handles: (request) => handledKinds.has(`${request.kind.group}/${request.kind.kind}`),
    decide(request: AdmissionRequest, view: ClusterView): Verdict {
      const object = request.object;
      if (!object) return allowed();
      const from: ReferenceFrom = {
        group: request.kind.group,
        kind: request.kind.kind,
        namespace: objectNamespace(request),
      };
      let refs: BackendRef[];
      try {
        refs = extract(from.group, from.kind, object, from.namespace) ?? [];
      } catch (error) {
        if (error instanceof TooDeeplyNestedError) {
          // Removing a finalizer from an object admitted before this webhook
          // must not leave it stuck in Terminating.
          if (isBeingDeleted(request) && isDeepStrictEqual(object.spec, request.oldObject?.spec)) return allowed();
          return denied(`${from.kind} ${from.namespace}/${objectName(request)} cannot be checked: ${error.message}`);
        }
        throw error;
      }
      // Kubernetes still accepts spec edits once deletionTimestamp is set (it
      // only refuses new finalizers), so a held-open deletion is no way around
      // the check: only refs the object already had are let through, and
      // removing finalizers keeps working. Malformed refs it already had
      // do not block that either.
      if (isBeingDeleted(request)) refs = refsNotIn(refs, previousRefs(request, from, extract));
      // Which refs need a grant follows the controller's mode (grantModes.ts):
      // those it needs none for are not looked at; those it does not check
      // but the webhook would are admitted with a warning.
      const requirement = new Map(refs.map((ref) => [ref, grantRequirement(ref.site?.control, settings.grantModes)]));
      refs = refs.filter((ref) => requirement.get(ref) !== 'not-required');
      const malformed = refs.flatMap((ref) => {
        if (ref.target.namespace === from.namespace) return [];
        const problem = malformedTarget(ref.target);
        return problem ? [`- ${ref.location}: ${problem}`] : [];
      });
      if (malformed.length > 0) {
        const listed = malformed.slice(0, MAX_LISTED_REFS);
        return denied(
          [
            `${from.kind} ${from.namespace}/${objectName(request)} has backendRefs into other namespaces that no object can match:`,
            ...listed,
            ...(malformed.length > listed.length ? [`- …and ${malformed.length - listed.length} more`] : []),
          ].join('\n'),
        );
      }
      const ungranted = ungrantedBackendRefs(refs, from, view);
      const missing = ungranted.filter((ref) => requirement.get(ref) === 'required');
      if (missing.length === 0) return ungranted.length === 0 ? allowed() : uncheckedWithoutGrant(ungranted, settings.grantModes);
      // Only the missing grant is softened by warn mode: an object that cannot
      // be checked (above), a not-ready view or a failed evaluation still deny.
      const enforcement = enforcementFor(from.namespace, missing.map((ref) => ref.target.namespace), settings, view);
      const denial = deniedForMissingGrant(from, objectName(request), missing, view, enforcement.notes);
      return enforcement.mode === 'warn' ? warnedForMissingGrant(missing, denial) : denial;
    },
  };
}
