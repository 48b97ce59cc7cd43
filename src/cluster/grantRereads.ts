import { MAX_REREAD_NAMESPACES, type ClusterView, type GrantEntries, type Reconsidered, type UnreadReason } from '../rules/clusterView.js';
import { isNamespaceName } from '../rules/kubernetesNames.js';
import { grantEntries } from '../rules/referenceGrants.js';
import { freshGrantsView, type ListedGrant } from './freshGrantsView.js';

export interface GrantRereadsOptions {
  /** Token bucket over the LISTs sent: this many at once... */
  burst?: number;
  /** ...refilled at this many per second. */
  perSecond?: number;
  /** For tests. */
  now?: () => number;
  /** Each namespace asked for: a new LIST, a LIST shared with another request, or why none was read. */
  onReread?: (result: RereadResult) => void;
}

export type RereadResult = 'listed' | 'shared' | UnreadReason;

export interface Rereads {
  grants: Map<string, ListedGrant[]>;
  unread: { namespace: string; reason: UnreadReason }[];
  error?: unknown;
}

export const REREAD_DEFAULTS = { burst: 40, perSecond: 10 };

/**
 * The direct reads of ReferenceGrants made before a denial, kept cheap for the
 * API server whoever sends denied requests (dry-runs and direct callers too):
 * per request at most MAX_REREAD_NAMESPACES namespaces; overall a token
 * bucket of LISTs; and per namespace at most one LIST in flight plus one
 * waiting, shared by every request that asks meanwhile. A request never joins
 * a LIST that was sent before it asked (that one may predate the grant it
 * needs): it joins the waiting one, sent when the current one ends.
 */
export class GrantRereads {
  private readonly options: Required<Omit<GrantRereadsOptions, 'onReread'>> & Pick<GrantRereadsOptions, 'onReread'>;
  private readonly running = new Map<string, Promise<ListedGrant[]>>();
  private readonly waiting = new Map<string, Promise<ListedGrant[]>>();
  private tokens: number;
  private refilledAt: number;

  constructor(
    private readonly list: (namespace: string) => Promise<ListedGrant[]>,
    options: GrantRereadsOptions = {},
  ) {
    this.options = { ...REREAD_DEFAULTS, now: () => performance.now(), ...options };
    this.tokens = this.options.burst;
    this.refilledAt = this.options.now();
  }

  async read(namespaces: readonly string[]): Promise<Rereads> {
    const unread: Rereads['unread'] = [];
    const pending: [string, Promise<ListedGrant[]>][] = [];
    for (const namespace of namespaces) {
      // The rules deny malformed names first; this keeps any other caller from
      // putting one into a URL.
      if (!isNamespaceName(namespace)) continue;
      if (pending.length + unread.length >= MAX_REREAD_NAMESPACES) {
        unread.push(this.unread(namespace, 'request-limit'));
        continue;
      }
      const read = this.readOne(namespace);
      if (read) pending.push([namespace, read]);
      else unread.push(this.unread(namespace, 'rate-limit'));
    }
    const grants = new Map<string, ListedGrant[]>();
    let error: unknown;
    const settled = await Promise.allSettled(pending.map(([, read]) => read));
    settled.forEach((outcome, i) => {
      const namespace = pending[i]![0];
      if (outcome.status === 'fulfilled') {
        grants.set(namespace, outcome.value);
      } else {
        error ??= outcome.reason;
        unread.push(this.unread(namespace, 'failed'));
      }
    });
    return { grants, unread, ...(error === undefined ? {} : { error }) };
  }

  /**
   * Decides again against `view` with the ReferenceGrants of `namespaces`
   * read just now, into a scratch copy dropped afterwards (see
   * freshGrantsView). When every namespace read holds the grants the view
   * already has (what a denial that stands finds), the answer is `decided`:
   * the same view gives the same decision, and a denial of thousands of refs
   * is not built twice.
   */
  async reconsider<T>(view: ClusterView, namespaces: readonly string[], decide: (view: ClusterView) => T, decided: T): Promise<Reconsidered<T>> {
    if (namespaces.length === 0) return { result: decided, reread: [], unread: [] };
    const { grants, unread, error } = await this.read(namespaces);
    const unchanged = [...grants].every(([namespace, listed]) => sameGrants(view.referenceGrantsIn(namespace), listed));
    return {
      result: unchanged ? decided : decide(freshGrantsView(view, grants)),
      reread: [...grants.keys()],
      unread,
      ...(error === undefined ? {} : { error }),
    };
  }

  private unread(namespace: string, reason: UnreadReason): { namespace: string; reason: UnreadReason } {
    this.options.onReread?.(reason);
    return { namespace, reason };
  }

  /** A LIST of the namespace sent after now, or undefined when the rate limit allows none. */
  private readOne(namespace: string): Promise<ListedGrant[]> | undefined {
    const waiting = this.waiting.get(namespace);
    if (waiting) {
      this.options.onReread?.('shared');
      return waiting;
    }
    if (!this.takeToken()) return undefined;
    this.options.onReread?.('listed');
    const running = this.running.get(namespace);
    if (!running) return this.start(namespace);
    const next = running
      .catch(() => undefined)
      .then(() => {
        this.waiting.delete(namespace);
        return this.start(namespace);
      });
    this.waiting.set(namespace, next);
    return next;
  }

  private start(namespace: string): Promise<ListedGrant[]> {
    const read = this.list(namespace).finally(() => {
      if (this.running.get(namespace) === read) this.running.delete(namespace);
    });
    this.running.set(namespace, read);
    return read;
  }

  private takeToken(): boolean {
    const now = this.options.now();
    this.tokens = Math.min(this.options.burst, this.tokens + ((now - this.refilledAt) / 1000) * this.options.perSecond);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** Whether grants listed from the API server allow exactly what `held` (the view's grants of that namespace) allows, entry for entry. */
function sameGrants(held: ReadonlyMap<string, GrantEntries>, listed: readonly ListedGrant[]): boolean {
  if (held.size !== listed.length) return false;
  return listed.every(({ name, spec }) => {
    const before = held.get(name);
    return before !== undefined && sameEntries(before, grantEntries(spec));
  });
}

function sameEntries(a: GrantEntries, b: GrantEntries): boolean {
  return (
    a.from.length === b.from.length &&
    a.to.length === b.to.length &&
    a.from.every((f, i) => f.group === b.from[i]!.group && f.kind === b.from[i]!.kind && f.namespace === b.from[i]!.namespace) &&
    a.to.every((t, i) => t.group === b.to[i]!.group && t.kind === b.to[i]!.kind && t.name === b.to[i]!.name)
  );
}
