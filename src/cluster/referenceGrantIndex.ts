import type { ReferenceFrom, ReferenceTo } from '../rules/clusterView.js';
import { grantEntries, type GrantEntries } from '../rules/referenceGrants.js';

/** Per target namespace: from "group/kind/namespace" → to "group/kind" → allowed names, or every name. */
type NamespaceLookup = Map<string, Map<string, { everyName: boolean; names: Set<string> }>>;

/**
 * ReferenceGrants indexed by the namespace they live in (the target's), so a
 * decision is a few map lookups however many grants the cluster holds. A
 * change to one grant rebuilds only its namespace's lookup.
 */
export class ReferenceGrantIndex {
  private readonly grants = new Map<string, Map<string, GrantEntries>>();
  private readonly lookups = new Map<string, NamespaceLookup>();
  /** Namespaces whose lookup is stale; rebuilt on their next question, so a list of N grants costs O(N), not O(N²). */
  private readonly stale = new Set<string>();
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
    inNamespace.set(name, grantEntries(spec));
    this.rebuild(namespace);
  }

  remove(namespace: string, name: string): void {
    const inNamespace = this.grants.get(namespace);
    if (!inNamespace?.delete(name)) return;
    this.count--;
    if (inNamespace.size === 0) this.grants.delete(namespace);
    this.rebuild(namespace);
  }

  /** Replaces everything, as after a fresh list. */
  reset(grants: Iterable<{ namespace: string; name: string; spec: unknown }>): void {
    this.grants.clear();
    this.lookups.clear();
    this.stale.clear();
    this.count = 0;
    const touched = new Set<string>();
    for (const g of grants) {
      let inNamespace = this.grants.get(g.namespace);
      if (!inNamespace) {
        inNamespace = new Map();
        this.grants.set(g.namespace, inNamespace);
      }
      if (!inNamespace.has(g.name)) this.count++;
      inNamespace.set(g.name, grantEntries(g.spec));
      touched.add(g.namespace);
    }
    for (const ns of touched) this.rebuild(ns);
  }

  /** Replaces the grants of one namespace, as after a live list of it. */
  replaceNamespace(namespace: string, grants: Iterable<{ name: string; spec: unknown }>): void {
    this.count -= this.grants.get(namespace)?.size ?? 0;
    const inNamespace = new Map<string, GrantEntries>();
    for (const g of grants) inNamespace.set(g.name, grantEntries(g.spec));
    this.count += inNamespace.size;
    if (inNamespace.size > 0) this.grants.set(namespace, inNamespace);
    else this.grants.delete(namespace);
    this.rebuild(namespace);
  }

  /** The grants of one namespace, by name. */
  grantsIn(namespace: string): ReadonlyMap<string, GrantEntries> {
    return this.grants.get(namespace) ?? new Map();
  }

  isGranted(from: ReferenceFrom, to: ReferenceTo): boolean {
    if (this.stale.has(to.namespace)) this.build(to.namespace);
    const lookup = this.lookups.get(to.namespace);
    if (!lookup) return false;
    const targets = lookup.get(`${from.group}/${from.kind}/${from.namespace}`);
    if (!targets) return false;
    const allowed = targets.get(`${to.group}/${to.kind}`);
    return allowed !== undefined && (allowed.everyName || allowed.names.has(to.name));
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
    // A grant allows the cross product of its own from and to lists, never
    // a `from` of one grant with a `to` of another (GEP-709).
    const lookup: NamespaceLookup = new Map();
    for (const entries of inNamespace.values()) {
      for (const f of entries.from) {
        const fromKey = `${f.group}/${f.kind}/${f.namespace}`;
        let targets = lookup.get(fromKey);
        if (!targets) {
          targets = new Map();
          lookup.set(fromKey, targets);
        }
        for (const t of entries.to) {
          const toKey = `${t.group}/${t.kind}`;
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
    this.lookups.set(namespace, lookup);
  }
}
