// ResourceWatch's list+watch protocol against a scripted stand-in API server.
// A stand-in because these are faults a real kube-apiserver gives only by
// chance or after minutes: 410 Gone on a watch (the resourceVersion compacted
// away), a watch the server ends, a list that fails. Following a real API
// server is covered by test/e2e/liveClusterSource.e2e.test.ts.
import { once } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeApi, type ListOptions } from '../../../src/kube/kubeApi.js';
import { ResourceWatch } from '../../../src/kube/resourceWatch.js';
import type { KubeObject } from '../../../src/rules/types.js';

const PATH = '/apis/gateway.networking.k8s.io/v1/referencegrants';
const grant = (namespace: string, name: string, resourceVersion: string) => ({ metadata: { namespace, name, resourceVersion }, spec: {} });

interface Script {
  /** Items of each successive list; a number answers that HTTP status instead. */
  lists: (ReturnType<typeof grant>[] | number)[];
  /** What each successive watch request sends: event lines, then it ends ('end') or stays open ('open'). */
  watches: { events: { type: string; object: unknown }[]; then: 'end' | 'open' }[];
}

async function standIn(script: Script) {
  const requests: { kind: 'list' | 'watch'; query: URLSearchParams; accept: string | undefined }[] = [];
  const open = new Set<ServerResponse>();
  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== PATH) return res.writeHead(404).end();
    if (url.searchParams.get('watch') === 'true') {
      requests.push({ kind: 'watch', query: url.searchParams, accept: req.headers.accept });
      const step = script.watches.shift() ?? { events: [], then: 'open' };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      for (const event of step.events) res.write(`${JSON.stringify(event)}\n`);
      if (step.then === 'end') return res.end();
      open.add(res);
      req.on('close', () => open.delete(res));
      return undefined;
    }
    requests.push({ kind: 'list', query: url.searchParams, accept: req.headers.accept });
    const step = script.lists.shift() ?? [];
    if (typeof step === 'number') return res.writeHead(step, { 'content-type': 'application/json' }).end('{"message":"scripted failure"}');
    // Two pages when there is more than one item, to exercise the continue token.
    const start = Number(url.searchParams.get('continue') ?? 0);
    const page = start === 0 && step.length > 1 ? step.slice(0, 1) : step.slice(start);
    if (start === 0 && step.length > 1) script.lists.unshift(step);
    const more = start === 0 && step.length > 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ metadata: { resourceVersion: '100', ...(more ? { continue: '1' } : {}) }, items: page }));
    return undefined;
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return {
    kubeConfig,
    requests,
    /** Sends an event on every watch still open. */
    push: (event: { type: string; object: unknown }) => {
      for (const res of open) res.write(`${JSON.stringify(event)}\n`);
    },
    close: async () => {
      for (const res of open) res.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function until(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('ResourceWatch', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  async function watching(script: Script, listOptions?: ListOptions) {
    const api = await standIn(script);
    const held = new Map<string, KubeObject>();
    const lists: string[] = [];
    const errors: unknown[] = [];
    const watch = new ResourceWatch(
      new KubeApi(api.kubeConfig),
      { group: 'gateway.networking.k8s.io', kind: 'ReferenceGrant', plural: 'referencegrants', namespaced: true, versions: ['v1'] },
      'v1',
      {
        upsert: (o) => void held.set(`${o.metadata?.namespace}/${o.metadata?.name}`, o),
        remove: (o) => void held.delete(`${o.metadata?.namespace}/${o.metadata?.name}`),
        held: () => [...held.values()].map((o) => ({ namespace: o.metadata?.namespace ?? '', name: o.metadata?.name ?? '' })),
        onList: (reason) => void lists.push(reason),
        onError: (error) => void errors.push(error),
      },
      pino({ level: 'silent' }),
      undefined,
      listOptions,
    );
    cleanups.push(async () => {
      await watch.stop();
      await api.close();
    });
    return { api, watch, held, lists, errors };
  }

  it('lists page by page, then watches from the list resourceVersion with bookmarks', async () => {
    const { api, watch, held, lists } = await watching({
      lists: [[grant('a', 'one', '1'), grant('b', 'two', '2')]],
      watches: [{ events: [{ type: 'ADDED', object: grant('c', 'three', '101') }], then: 'open' }],
    });
    await watch.start();
    expect(watch.hasSynced).toBe(true);
    expect(lists).toEqual(['initial']);
    await until('the watched addition', () => held.has('c/three'));
    expect([...held.keys()].sort()).toEqual(['a/one', 'b/two', 'c/three']);
    const watchRequest = api.requests.find((r) => r.kind === 'watch')!;
    expect(watchRequest.query.get('resourceVersion')).toBe('100');
    expect(watchRequest.query.get('allowWatchBookmarks')).toBe('true');
    expect(Number(watchRequest.query.get('timeoutSeconds'))).toBeGreaterThanOrEqual(300);
    expect(api.requests.filter((r) => r.kind === 'list')).toHaveLength(2);
  });

  it('narrows list and watch by a label selector, and asks for metadata only when told (as the Namespace watch does)', async () => {
    const { api, watch, held } = await watching(
      { lists: [[grant('', 'labelled', '1')]], watches: [{ events: [{ type: 'DELETED', object: grant('', 'labelled', '101') }], then: 'open' }] },
      { labelSelector: 'kgateway-admission.dev/enforcement', metadataOnly: true },
    );
    await watch.start();
    await until('the label removal (a DELETED event of the selector)', () => !held.has('/labelled'));
    const list = api.requests.find((r) => r.kind === 'list')!;
    const watchRequest = api.requests.find((r) => r.kind === 'watch')!;
    expect(list.query.get('labelSelector')).toBe('kgateway-admission.dev/enforcement');
    expect(watchRequest.query.get('labelSelector')).toBe('kgateway-admission.dev/enforcement');
    expect(list.accept).toBe('application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json');
    expect(watchRequest.accept).toBe('application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json');
    const plain = await watching({ lists: [[]], watches: [] });
    await plain.watch.start();
    await until('the plain watch request', () => plain.api.requests.some((r) => r.kind === 'watch'));
    expect(plain.api.requests.map((r) => [r.query.get('labelSelector'), r.accept?.includes('PartialObjectMetadata')])).toEqual([
      [null, false],
      [null, false],
    ]);
  });

  it('resumes a watch the server ended from the last resourceVersion seen (bookmarks included), without re-listing', async () => {
    const { api, watch, held, lists } = await watching({
      lists: [[grant('a', 'one', '1')]],
      watches: [
        {
          events: [
            { type: 'MODIFIED', object: grant('a', 'one', '120') },
            { type: 'BOOKMARK', object: { metadata: { resourceVersion: '150' } } },
          ],
          then: 'end',
        },
        { events: [{ type: 'DELETED', object: grant('a', 'one', '160') }], then: 'open' },
      ],
    });
    await watch.start();
    await until('the deletion from the resumed watch', () => !held.has('a/one'));
    const watches = api.requests.filter((r) => r.kind === 'watch');
    expect(watches.map((r) => r.query.get('resourceVersion'))).toEqual(['100', '150']);
    expect(lists).toEqual(['initial']);
  });

  it('re-lists on 410 Gone, and drops what vanished while it was not watching', async () => {
    const { api, watch, held, lists, errors } = await watching({
      lists: [[grant('a', 'stays', '1'), grant('a', 'goes', '2')], [grant('a', 'stays', '300'), grant('b', 'new', '301')]],
      watches: [
        { events: [{ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 100 (250)' } }], then: 'end' },
        { events: [], then: 'open' },
      ],
    });
    await watch.start();
    await until('the re-list', () => lists.length === 2);
    expect(lists).toEqual(['initial', 'relist']);
    expect([...held.keys()].sort()).toEqual(['a/stays', 'b/new']);
    expect(errors).toEqual([]);
    await until('the watch after the re-list', () => api.requests.filter((r) => r.kind === 'watch').length === 2);
  });

  it('a re-list reconciles what the consumer holds, also objects this watch never delivered (issue 17: a grant put back by an old direct read stayed)', async () => {
    const { watch, held, lists } = await watching({
      lists: [[grant('a', 'stays', '1')], [grant('a', 'stays', '300')]],
      watches: [
        { events: [{ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 100 (250)' } }], then: 'end' },
        { events: [], then: 'open' },
      ],
    });
    // Before the first list answers: something other than this watch wrote into the consumer's state.
    held.set('b/stray', grant('b', 'stray', '5'));
    await watch.start();
    await until('the re-list', () => lists.length === 2);
    expect([...held.keys()].sort()).toEqual(['a/stays']);
  });

  it('keeps the last synced state through a failing list and retries with a re-list', async () => {
    const { watch, held, lists, errors } = await watching({
      lists: [[grant('a', 'one', '1')], 500, [grant('a', 'two', '5')]],
      watches: [{ events: [{ type: 'ERROR', object: { kind: 'Status', code: 500, message: 'internal error' } }], then: 'end' }, { events: [], then: 'open' }],
    });
    await watch.start();
    expect([...held.keys()]).toEqual(['a/one']);
    // The watch fails (500), the re-list after the backoff fails (500): state is kept.
    await until('two failures', () => errors.length >= 2);
    expect([...held.keys()]).toEqual(['a/one']);
    await until('the successful re-list', () => lists.length === 2, 10_000);
    expect([...held.keys()]).toEqual(['a/two']);
    expect(String(errors[0])).toMatch(/answered 500: internal error/);
  });

  it('delivers nothing once stopped', async () => {
    const { api, watch, held } = await watching({ lists: [[grant('a', 'one', '1')]], watches: [{ events: [], then: 'open' }] });
    await watch.start();
    await until('the watch', () => api.requests.some((r) => r.kind === 'watch'));
    api.push({ type: 'ADDED', object: grant('a', 'before-stop', '101') });
    await until('the event before stop', () => held.has('a/before-stop'));
    await watch.stop();
    api.push({ type: 'ADDED', object: grant('a', 'after-stop', '102') });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect([...held.keys()].sort()).toEqual(['a/before-stop', 'a/one']);
  });
});
