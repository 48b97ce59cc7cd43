// The reads of ReferenceGrants made before a denial (issue 17 item 3): coalesced
// per namespace, at most 8 namespaces per request, rate-limited overall.
import { describe, expect, it } from 'vitest';
import { GrantRereads, type RereadResult } from '../../../src/cluster/grantRereads.js';
import type { ListedGrant } from '../../../src/cluster/freshGrantsView.js';
import { InMemoryClusterView } from '../../../src/cluster/inMemoryClusterView.js';

/** A LIST stand-in whose answers the test releases one by one. */
function heldLists() {
  const calls: { namespace: string; answer: (grants: ListedGrant[]) => void; fail: (error: Error) => void }[] = [];
  const list = (namespace: string) =>
    new Promise<ListedGrant[]>((resolve, reject) => {
      calls.push({ namespace, answer: resolve, fail: reject });
    });
  return { calls, list };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('GrantRereads', () => {
  it('shares one LIST per namespace among requests that ask while it waits, and never joins one sent before they asked', async () => {
    const { calls, list } = heldLists();
    const results: RereadResult[] = [];
    const rereads = new GrantRereads(list, { onReread: (r) => results.push(r) });
    const first = rereads.read(['monitoring']);
    // Asked while the first LIST is out: that one may predate their grant, so they share the next.
    const later = Array.from({ length: 50 }, () => rereads.read(['monitoring']));
    await tick();
    expect(calls.map((c) => c.namespace)).toEqual(['monitoring']);
    calls[0]!.answer([{ name: 'old', spec: {} }]);
    expect((await first).grants.get('monitoring')).toEqual([{ name: 'old', spec: {} }]);
    await tick();
    expect(calls.map((c) => c.namespace)).toEqual(['monitoring', 'monitoring']);
    calls[1]!.answer([{ name: 'new', spec: {} }]);
    for (const read of await Promise.all(later)) expect(read.grants.get('monitoring')).toEqual([{ name: 'new', spec: {} }]);
    expect(results.filter((r) => r === 'listed')).toHaveLength(2);
    expect(results.filter((r) => r === 'shared')).toHaveLength(49);
  });

  it('reads at most 8 namespaces for one request and names the rest', async () => {
    const { calls, list } = heldLists();
    const rereads = new GrantRereads(list);
    const namespaces = Array.from({ length: 50 }, (_, i) => `ns-${i}`);
    const read = rereads.read(namespaces);
    await tick();
    expect(calls.map((c) => c.namespace)).toEqual(namespaces.slice(0, 8));
    for (const call of calls) call.answer([]);
    const { grants, unread } = await read;
    expect([...grants.keys()]).toEqual(namespaces.slice(0, 8));
    expect(unread).toEqual(namespaces.slice(8).map((namespace) => ({ namespace, reason: 'request-limit' })));
  });

  it('sends no LIST past its token bucket, and refills with time', async () => {
    let now = 0;
    const { calls, list } = heldLists();
    const rereads = new GrantRereads(list, { burst: 3, perSecond: 2, now: () => now });
    const reads = [rereads.read(['a', 'b']), rereads.read(['c', 'd'])];
    await tick();
    expect(calls.map((c) => c.namespace)).toEqual(['a', 'b', 'c']);
    for (const call of calls) call.answer([]);
    expect((await reads[1]!).unread).toEqual([{ namespace: 'd', reason: 'rate-limit' }]);
    now = 500;
    const refilled = rereads.read(['d', 'e']);
    await tick();
    expect(calls.map((c) => c.namespace)).toEqual(['a', 'b', 'c', 'd']);
    calls[3]!.answer([]);
    expect((await refilled).unread).toEqual([{ namespace: 'e', reason: 'rate-limit' }]);
  });

  it('reports a failed LIST as unread with its error, and puts no malformed namespace into a LIST', async () => {
    const { calls, list } = heldLists();
    const rereads = new GrantRereads(list);
    const read = rereads.read(['x1/../../gatewayclasses?', 'ok']);
    await tick();
    expect(calls.map((c) => c.namespace)).toEqual(['ok']);
    calls[0]!.fail(new Error('GET: 500'));
    const { grants, unread, error } = await read;
    expect(grants.size).toBe(0);
    expect(unread).toEqual([{ namespace: 'ok', reason: 'failed' }]);
    expect((error as Error).message).toBe('GET: 500');
  });
});

describe('GrantRereads.reconsider', () => {
  const grant = (name: string, to: string) => ({ name, spec: { from: [{ group: 'g', kind: 'K', namespace: 'app' }], to: [{ group: '', kind: 'Service', name: to }] } });
  const from = { group: 'g', kind: 'K', namespace: 'app' };
  const target = (name: string) => ({ group: '', kind: 'Service', namespace: 'monitoring', name });

  it('keeps the first decision, deciding nothing again, when the grants read are those the view holds', async () => {
    const view = new InMemoryClusterView();
    view.referenceGrants.upsert('monitoring', 'a', grant('a', 'one').spec);
    const rereads = new GrantRereads(async () => [grant('a', 'one')]);
    let decisions = 0;
    const again = await rereads.reconsider(view, ['monitoring'], () => ++decisions, 0);
    expect(again).toEqual({ result: 0, reread: ['monitoring'], unread: [] });
    expect(decisions).toBe(0);
  });

  it('decides again on the fresh grants when they differ from the view in a name, an entry or a count', async () => {
    const view = new InMemoryClusterView();
    view.referenceGrants.upsert('monitoring', 'a', grant('a', 'one').spec);
    for (const listed of [[grant('a', 'two')], [grant('b', 'one')], [grant('a', 'one'), grant('b', 'two')], []]) {
      const rereads = new GrantRereads(async () => listed);
      const again = await rereads.reconsider(view, ['monitoring'], (fresh) => listed.map((g) => fresh.isReferenceGranted(from, target(g.spec.to[0]!.name))), []);
      expect(again.result).toEqual(listed.map(() => true));
    }
  });
});
