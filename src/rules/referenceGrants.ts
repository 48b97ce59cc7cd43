import type { GrantEntries, ReferenceFrom, ReferenceTo } from './clusterView.js';
import { isRecord } from './objectPaths.js';

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

/** One key per tuple of strings, whatever they hold: each part is prefixed with its length. */
function tupleKey(...parts: string[]): string {
  let key = '';
  for (const part of parts) key += `${part.length}:${part}`;
  return key;
}

/**
 * Grants of one namespace compiled for lookups: from (group, kind, namespace)
 * → to (group, kind) → the names allowed, or every name. GEP-709: a grant
 * allows a reference when one of its `from` entries is the referrer's group,
 * kind and namespace and one of its `to` entries the target's group and kind
 * with no name or the target's name; the grants must live in the target's
 * namespace. A question is two map lookups however many grants there are.
 */
export class GrantLookup {
  private readonly byFrom = new Map<string, Map<string, { everyName: boolean; names: Set<string> }>>();

  constructor(grants: Iterable<GrantEntries>) {
    // A grant allows the cross product of its own from and to lists, never
    // a `from` of one grant with a `to` of another (GEP-709).
    for (const entries of grants) {
      for (const f of entries.from) {
        const fromKey = tupleKey(f.group, f.kind, f.namespace);
        let targets = this.byFrom.get(fromKey);
        if (!targets) {
          targets = new Map();
          this.byFrom.set(fromKey, targets);
        }
        for (const t of entries.to) {
          const toKey = tupleKey(t.group, t.kind);
          let allowed = targets.get(toKey);
          if (!allowed) {
            allowed = { everyName: false, names: new Set() };
            targets.set(toKey, allowed);
          }
          if (t.name === '') allowed.everyName = true;
          else allowed.names.add(t.name);
        }
      }
    }
  }

  /** Whether one of the grants allows `from` to refer to `to` (`to` in the grants' namespace). */
  allows(from: ReferenceFrom, to: ReferenceTo): boolean {
    const targets = this.byFrom.get(tupleKey(from.group, from.kind, from.namespace));
    if (!targets) return false;
    const allowed = targets.get(tupleKey(to.group, to.kind));
    return allowed !== undefined && (allowed.everyName || allowed.names.has(to.name));
  }
}
