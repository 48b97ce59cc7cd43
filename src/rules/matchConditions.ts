import { isDeepStrictEqual } from 'node:util';
import { compilePath } from './objectPaths.js';
import { knownVersions } from './ruleSet.js';
import { SKIP_ANNOTATION } from './gatewayParametersRef.js';
import type { BackendRefKind, RuleSettings } from './settings.js';
import { GATEWAY_API_GROUP } from './types.js';

/**
 * CEL `matchConditions` for the three webhooks, generated from the tables the
 * rules read, so the API server skips the requests no rule can act on
 * (admissionregistration.k8s.io/v1 MatchCondition; Kyverno does the same per
 * policy). The API server calls a webhook only when every condition is true;
 * a condition that errors sends the request through failurePolicy (Fail:
 * rejected, Ignore: not called), so every field is tested with `has()` or
 * `in` before it is read.
 *
 * The invariant, checked against the real API server by
 * test/e2e/matchConditions.e2e.test.ts: a condition is false only where every
 * rule of that webhook allows the request unchanged and without a warning.
 * So each condition opens with the requests it must never narrow: other kinds
 * (the webhook may list more, e.g. `extraRules`), and versions the rules do
 * not read (the version gate denies those, src/rules/ruleSet.ts).
 *
 * The chart cannot run this module: `npm run generate:match-conditions`
 * writes its output to charts/kgateway-admission/files/match-conditions.json,
 * which webhooks.yaml renders, and a unit test fails when the two differ. The
 * parts that depend on the chart's values are formats with one `%s`, which
 * the chart fills with a JSON list (a JSON list of strings is a CEL list).
 */
export interface MatchCondition {
  name: string;
  expression: string;
}

/** Where a condition's format takes its list (`printf` in the chart). */
export const LIST_PLACEHOLDER = '%s';

/** A CEL list literal of strings; JSON's is one (and Helm's toJson writes the same). */
export function celList(values: readonly string[]): string {
  return JSON.stringify(values);
}

export function fillList(format: string, values: readonly string[]): string {
  return format.replace(LIST_PLACEHOLDER, celList(values));
}

// CEL reserves some words (e.g. `namespace`) as identifiers: such a field is
// read by index, never by selection (cel-spec, "Syntax", reserved words).
const CEL_RESERVED = new Set([
  'as', 'break', 'const', 'continue', 'else', 'false', 'for', 'function', 'if', 'import', 'in', 'let', 'loop',
  'package', 'namespace', 'null', 'return', 'true', 'var', 'void', 'while',
]);

function fieldOf(base: string, field: string): { has: string; value: string } {
  if (CEL_RESERVED.has(field)) return { has: `${JSON.stringify(field)} in ${base}`, value: `${base}[${JSON.stringify(field)}]` };
  return { has: `has(${base}.${field})`, value: `${base}.${field}` };
}

function isKind(group: string, kind: string): string {
  return `request.kind.group == ${JSON.stringify(group)} && request.kind.kind == ${JSON.stringify(kind)}`;
}

/** `!(kind) || !(known version) || body`: true for other kinds and for versions the version gate denies. */
function forKind(group: string, kind: string, versions: readonly string[] | undefined, body: string): string {
  const unknownVersion = versions ? ` || !(request.kind.version in ${celList(versions)})` : '';
  return `!(${isKind(group, kind)})${unknownVersion} || (${body})`;
}

/**
 * A backendRef that names a namespace other than the request's. An absent or
 * empty namespace means the referrer's own (BackendObjectReference default),
 * as in crossNamespaceBackendRefs.ts toBackendRef.
 */
function refCrosses(ref: string): string {
  const ns = fieldOf(ref, 'namespace');
  return `${ns.has} && ${ns.value} != "" && ${ns.value} != request.namespace`;
}

/**
 * True when a backendRef at the dotted path (`spec.accessLog[].grpcService.backendRef`)
 * of `object` crosses namespaces: `has()` down the path, `.exists()` over
 * each array.
 */
export function siteCrossesNamespace(path: string): string {
  const segments = compilePath(path);
  const walk = (base: string, index: number, depth: number): string => {
    if (index === segments.length) return refCrosses(base);
    const { field, each } = segments[index]!;
    const next = fieldOf(base, field);
    if (!each) return `${next.has} && ${walk(next.value, index + 1, depth)}`;
    const item = `i${depth}`;
    return `${next.has} && ${next.value}.exists(${item}, ${walk(item, index + 1, depth + 1)})`;
  };
  return walk('object', 0, 0);
}

const kindKey = (k: { group: string; kind: string }): string => `${k.group}/${k.kind}`;

function conditionName(prefix: string, kind: string): string {
  // MatchCondition names are qualified names: at most 63 characters of [-A-Za-z0-9_.].
  return `${prefix}-${kind.toLowerCase()}`.slice(0, 63);
}

/** The validating condition of one kind: other kinds pass, this one only with a site that crosses namespaces. */
export function kindCrossesNamespaceCondition(rows: readonly BackendRefKind[], versions: readonly string[] | undefined): MatchCondition {
  const { group, kind } = rows[0]!;
  const sites = rows.flatMap((row) => row.paths).map((path) => `(${siteCrossesNamespace(path)})`);
  return { name: conditionName('cross-namespace', kind), expression: forKind(group, kind, versions, sites.length > 0 ? sites.join(' || ') : 'false') };
}

/**
 * The kinds whose every row in the settings is a row of `table`: only their
 * sites are known to the chart too. A kind that configuration extends (a row
 * of its own, or scanKinds, whose search of the whole spec CEL cannot do) is
 * sent to the webhook whole.
 */
function narrowedKinds(settings: Pick<RuleSettings, 'backendRefKinds' | 'scanKinds'>, table: readonly BackendRefKind[]): Map<string, BackendRefKind[]> {
  const scanned = new Set(settings.scanKinds.map(kindKey));
  const byKind = new Map<string, BackendRefKind[]>();
  for (const row of table) byKind.set(kindKey(row), [...(byKind.get(kindKey(row)) ?? []), row]);
  for (const [key, rows] of byKind) {
    const inSettings = settings.backendRefKinds.filter((row) => kindKey(row) === key);
    if (scanned.has(key) || !isDeepStrictEqual(inSettings, rows)) byKind.delete(key);
  }
  return byKind;
}

/** One condition per narrowed kind of the policies webhook, in table order. */
export function validatingMatchConditions(settings: Pick<RuleSettings, 'backendRefKinds' | 'scanKinds'>, table: readonly BackendRefKind[]): MatchCondition[] {
  const versions = knownVersions(settings);
  return [...narrowedKinds(settings, table)].map(([key, rows]) => kindCrossesNamespaceCondition(rows, versions.get(key)));
}

const GATEWAY_VERSIONS = ['v1', 'v1beta1'] as const;

/**
 * The mutating webhook's conditions that hold whatever the class settings:
 * a Gateway without spec.infrastructure.parametersRef, not opted out, not
 * being deleted (gatewayParametersRef.ts patchWanted).
 */
export function gatewayMatchConditions(): MatchCondition[] {
  const gateway = (body: string) => forKind(GATEWAY_API_GROUP, 'Gateway', GATEWAY_VERSIONS, body);
  return [
    {
      name: 'gateway-without-parameters-ref',
      expression: gateway('!has(object.spec) || !has(object.spec.infrastructure) || !has(object.spec.infrastructure.parametersRef)'),
    },
    {
      name: 'gateway-not-opted-out',
      expression: gateway(`!has(object.metadata.annotations) || !(${JSON.stringify(SKIP_ANNOTATION)} in object.metadata.annotations) || object.metadata.annotations[${JSON.stringify(SKIP_ANNOTATION)}] != "true"`),
    },
    { name: 'gateway-not-being-deleted', expression: gateway('!has(object.metadata.deletionTimestamp)') },
  ];
}

/**
 * By class name: only when no controller name is configured. A GatewayClass's
 * controllerName is in another object, which a condition cannot read, so
 * with controller names any class may be ours and the class does not narrow.
 */
export const GATEWAY_CLASS_NAME_CONDITION: MatchCondition = {
  name: 'gateway-class-by-name',
  expression: forKind(GATEWAY_API_GROUP, 'Gateway', GATEWAY_VERSIONS, `has(object.spec.gatewayClassName) && object.spec.gatewayClassName in ${LIST_PLACEHOLDER}`),
};

export function mutatingMatchConditions(settings: Pick<RuleSettings, 'gatewayClassNames' | 'gatewayControllerNames'>): MatchCondition[] {
  const byName = settings.gatewayControllerNames.length === 0
    ? [{ ...GATEWAY_CLASS_NAME_CONDITION, expression: fillList(GATEWAY_CLASS_NAME_CONDITION.expression, settings.gatewayClassNames) }]
    : [];
  return [...gatewayMatchConditions(), ...byName];
}

/**
 * The grant guard: an UPDATE that leaves spec as it was cannot take a
 * permission away (referenceGrantGuard.ts referrersLosingGrant compares the
 * entries of both).
 */
export function grantGuardMatchConditions(): MatchCondition[] {
  return [
    {
      name: 'reference-grant-delete-or-spec-change',
      expression: forKind(GATEWAY_API_GROUP, 'ReferenceGrant', GATEWAY_VERSIONS, 'request.operation == "DELETE" || !has(object.spec) || !has(oldObject.spec) || object.spec != oldObject.spec'),
    },
  ];
}

/**
 * ...and only a grant one of whose `from` entries names a kind with
 * backendRefs: no other object can lose a permission through it. `from.group`
 * and `from.kind` are required by the CRD; `""` stands in for a missing group
 * as grantEntries reads it.
 */
export const GRANT_REFERRER_CONDITION: MatchCondition = {
  name: 'reference-grant-from-referrer-kind',
  expression: forKind(
    GATEWAY_API_GROUP,
    'ReferenceGrant',
    GATEWAY_VERSIONS,
    `!has(oldObject.spec) || !has(oldObject.spec.from) || oldObject.spec.from.exists(f, !has(f.kind) || ((has(f.group) ? f.group : "") + "/" + f.kind) in ${LIST_PLACEHOLDER})`,
  ),
};

/** `group/kind` of every kind whose objects may refer through a grant: the table's, then configuration's. */
export function referrerKindKeys(settings: Pick<RuleSettings, 'backendRefKinds' | 'scanKinds'>): string[] {
  return [...new Set([...settings.backendRefKinds, ...settings.scanKinds].map(kindKey))];
}

export function referenceGrantMatchConditions(settings: Pick<RuleSettings, 'backendRefKinds' | 'scanKinds'>): MatchCondition[] {
  return [...grantGuardMatchConditions(), { ...GRANT_REFERRER_CONDITION, expression: fillList(GRANT_REFERRER_CONDITION.expression, referrerKindKeys(settings)) }];
}

/** The webhooks as the chart names them, with their conditions for these settings. */
export const WEBHOOK_NAMES = {
  mutating: 'gateways.mutate.kgateway-admission.kgateway.dev',
  validating: 'policies.validate.kgateway-admission.kgateway.dev',
  grantGuard: 'referencegrants.validate.kgateway-admission.kgateway.dev',
} as const;

export function webhookMatchConditions(settings: RuleSettings, table: readonly BackendRefKind[]): Record<keyof typeof WEBHOOK_NAMES, MatchCondition[]> {
  return {
    mutating: mutatingMatchConditions(settings),
    validating: validatingMatchConditions(settings, table),
    grantGuard: referenceGrantMatchConditions(settings),
  };
}

/** What charts/kgateway-admission/files/match-conditions.json holds: the conditions with the values' lists left as `%s`. */
export function chartMatchConditions(table: readonly BackendRefKind[]) {
  const settings = { backendRefKinds: [...table], scanKinds: [] };
  const versions = knownVersions(settings);
  return {
    mutating: { conditions: gatewayMatchConditions(), classNameCondition: GATEWAY_CLASS_NAME_CONDITION },
    validating: {
      kinds: [...narrowedKinds(settings, table)].map(([key, rows]) => ({ key, condition: kindCrossesNamespaceCondition(rows, versions.get(key)) })),
    },
    grantGuard: { conditions: grantGuardMatchConditions(), referrerCondition: GRANT_REFERRER_CONDITION, referrerKinds: referrerKindKeys(settings) },
  };
}
