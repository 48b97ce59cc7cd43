import type { ReferenceFrom, ReferenceTo } from './clusterView.js';
import { isRecord } from './objectPaths.js';

/** The parts of a ReferenceGrant spec that decide what it allows. */
export interface GrantEntries {
  from: { group: string; kind: string; namespace: string }[];
  /** `name` is '' when the entry allows every object of its group and kind. */
  to: { group: string; kind: string; name: string }[];
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Reads spec.from / spec.to of a ReferenceGrant, dropping entries the CRD schema would reject. */
export function grantEntries(spec: unknown): GrantEntries {
  const entries: GrantEntries = { from: [], to: [] };
  if (!isRecord(spec)) return entries;
  for (const f of Array.isArray(spec.from) ? spec.from : []) {
    if (!isRecord(f)) continue;
    const kind = str(f.kind);
    const namespace = str(f.namespace);
    if (kind && namespace) entries.from.push({ group: str(f.group) ?? '', kind, namespace });
  }
  for (const t of Array.isArray(spec.to) ? spec.to : []) {
    if (!isRecord(t)) continue;
    const kind = str(t.kind);
    if (kind) entries.to.push({ group: str(t.group) ?? '', kind, name: str(t.name) ?? '' });
  }
  return entries;
}

/**
 * GEP-709: one grant allows a reference when one of its `from` entries is the
 * referrer's group, kind and namespace and one of its `to` entries is the
 * target's group and kind with no name or the target's name. The grant must
 * live in the target's namespace; callers pass only such grants.
 */
export function grantAllows(entries: GrantEntries, from: ReferenceFrom, to: ReferenceTo): boolean {
  return (
    entries.from.some((f) => f.group === from.group && f.kind === from.kind && f.namespace === from.namespace) &&
    entries.to.some((t) => t.group === to.group && t.kind === to.kind && (t.name === '' || t.name === to.name))
  );
}
