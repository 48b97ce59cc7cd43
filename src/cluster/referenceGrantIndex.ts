import type { GrantEntries, ReferenceFrom, ReferenceTo } from '../rules/clusterView.js';
import { GrantLookup, grantEntries } from '../rules/referenceGrants.js';

type FromEntry = GrantEntries['from'][number];
type ToEntry = GrantEntries['to'][number];

/** Enough for every kind in every namespace of a large cluster; past it, entries are kept unshared. */
const MAX_SHARED = 50_000;

/**
 * Shares the parts grants repeat: the same `from` entry (group/kind/namespace)
 * and the same group and kind strings appear in thousands of grants, and each
 * listed object brings its own copy of every string. At 100,000 grants this
 * halves the index's memory.
 */
class EntryPool {
  private readonly froms = new Map<string, FromEntry>();
  private readonly strings = new Map<string, string>();

  private readonly fromLists = new Map<string, GrantEntries['from']>();

  compact(entries: GrantEntries): GrantEntries {
    return { from: this.fromList(entries.from), to: entries.to.map((t) => this.to(t)) };
  }

  /** Grants that admit the same referrers share one frozen `from` list. */
  private fromList(list: GrantEntries['from']): GrantEntries['from'] {
    const froms = list.map((f) => this.from(f));
    const key = froms.map((f) => `${f.group}/${f.kind}/${f.namespace}`).join('|');
    const shared = this.fromLists.get(key);
    if (shared) return shared;
    Object.freeze(froms);
    if (this.fromLists.size < MAX_SHARED) this.fromLists.set(key, froms);
    return froms;
  }

  private from(f: FromEntry): FromEntry {
    const key = `${f.group}/${f.kind}/${f.namespace}`;
    const shared = this.froms.get(key);
    if (shared) return shared;
    const entry = Object.freeze({ group: this.string(f.group), kind: this.string(f.kind), namespace: this.string(f.namespace) });
    if (this.froms.size < MAX_SHARED) this.froms.set(key, entry);
    return entry;
  }

  private to(t: ToEntry): ToEntry {
    return { group: this.string(t.group), kind: this.string(t.kind), name: t.name };
  }

  private string(value: string): string {
    const shared = this.strings.get(value);
    if (shared !== undefined) return shared;
    if (this.strings.size < MAX_SHARED) this.strings.set(value, value);
    return value;
  }
}

/**
 * ReferenceGrants indexed by the namespace they live in (the target's), so a
 * decision is a few map lookups however many grants the cluster holds. A
 * change to one grant rebuilds only its namespace's lookup.
 */
export class ReferenceGrantIndex {
  private readonly grants = new Map<string, Map<string, GrantEntries>>();
  private readonly lookups = new Map<string, GrantLookup>();
  /** Namespaces whose lookup is stale; rebuilt on their next question, so a list of N grants costs O(N), not O(N²). */
  private readonly stale = new Set<string>();
  private readonly pool = new EntryPool();
  private count = 0;

  get size(): number {
    return this.count;
  }

  upsert(namespace: string, name: string, spec: unknown): void {
    let inNamespace = this.grants.get(namespace);
    if (!inNamespace) {
      inNamespace = new Map();
      this.grants.set(namespace, inNamespace);
    }
    if (!inNamespace.has(name)) this.count++;
    inNamespace.set(name, this.pool.compact(grantEntries(spec)));
    this.rebuild(namespace);
  }

  remove(namespace: string, name: string): void {
    const inNamespace = this.grants.get(namespace);
    if (!inNamespace?.delete(name)) return;
    this.count--;
    if (inNamespace.size === 0) this.grants.delete(namespace);
    this.rebuild(namespace);
  }

  /** Replaces the grants of one namespace, as after a live list of it. */
  replaceNamespace(namespace: string, grants: Iterable<{ name: string; spec: unknown }>): void {
    this.count -= this.grants.get(namespace)?.size ?? 0;
    const inNamespace = new Map<string, GrantEntries>();
    for (const g of grants) inNamespace.set(g.name, this.pool.compact(grantEntries(g.spec)));
    this.count += inNamespace.size;
    if (inNamespace.size > 0) this.grants.set(namespace, inNamespace);
    else this.grants.delete(namespace);
    this.rebuild(namespace);
  }

  /** Every grant held, as namespace and name. */
  *keys(): Iterable<{ namespace: string; name: string }> {
    for (const [namespace, inNamespace] of this.grants) for (const name of inNamespace.keys()) yield { namespace, name };
  }

  /** The grants of one namespace, by name. */
  grantsIn(namespace: string): ReadonlyMap<string, GrantEntries> {
    return this.grants.get(namespace) ?? new Map();
  }

  isGranted(from: ReferenceFrom, to: ReferenceTo): boolean {
    if (this.stale.has(to.namespace)) this.build(to.namespace);
    return this.lookups.get(to.namespace)?.allows(from, to) ?? false;
  }

  private rebuild(namespace: string): void {
    this.lookups.delete(namespace);
    if (this.grants.has(namespace)) this.stale.add(namespace);
    else this.stale.delete(namespace);
  }

  private build(namespace: string): void {
    this.stale.delete(namespace);
    const inNamespace = this.grants.get(namespace);
    if (!inNamespace) {
      this.lookups.delete(namespace);
      return;
    }
    this.lookups.set(namespace, new GrantLookup(inNamespace.values()));
  }
}
