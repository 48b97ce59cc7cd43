// A real 410 Gone for our own list+watch (ResourceWatch under LiveClusterSource):
// the resourceVersion a watch resumes from has been compacted away in etcd.
// test/unit/kube/resourceWatch.test.ts scripts the same with a stand-in
// server; here every part is real: etcd, kube-apiserver, client-node's Watch.
//
// A kube-apiserver with its watch cache answers a resume from its own window of
// events, whatever etcd has compacted, so the watch runs against a peer API
// server on the same etcd with --watch-cache=false: its watches are etcd's, and
// a resume from a revision older than the last compaction answers 410.
//
// To give the expired watch something to miss, the source reaches the peer
// through a relay that can hold what the client sends: once every watch has
// been ended by the API server (at its short timeoutSeconds) and asked again,
// a grant is deleted and etcd compacted before the held requests go through.
// Only a re-list can then see the deletion.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { KubeApi } from '../../src/kube/kubeApi.js';
import { LiveClusterSource } from '../../src/cluster/liveClusterSource.js';
import { referenceGrant } from '../support/builders.js';
import { kubeRequest, requireControlPlane, startControlPlane, startKubeApiserver, type ControlPlane } from '../../harness/index.ts';
import { create, ensureNamespaces, PATHS, pollUntil, viewSettings } from './support.js';

const skip = await requireControlPlane();
const GRANTS = 'referencegrants.gateway.networking.k8s.io/v1';
const from = { group: 'gateway.kgateway.dev', kind: 'HTTPListenerPolicy', namespace: 'kgateway' };
const to = (name: string) => ({ group: '', kind: 'Service', namespace: 'monitoring', name });

/**
 * A TCP relay to `target` (TLS passes through untouched). While held, what
 * clients send is kept back until release(); `heldConnections` counts the
 * connections with something waiting (a request, as the source sends nothing else).
 */
async function startHoldingRelay(target: string) {
  const { hostname, port } = new URL(target);
  let holding = false;
  const held = new Map<net.Socket, { upstream: net.Socket; chunks: Buffer[] }>();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(port), hostname);
    sockets.add(client).add(upstream);
    client.on('data', (chunk: Buffer) => {
      if (!holding) return void upstream.write(chunk);
      const entry = held.get(client) ?? { upstream, chunks: [] };
      entry.chunks.push(chunk);
      held.set(client, entry);
    });
    upstream.pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
      held.delete(client);
    };
    for (const socket of [client, upstream]) socket.on('close', close).on('error', close);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `https://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    get heldConnections() {
      return held.size;
    },
    hold() {
      holding = true;
    },
    release() {
      holding = false;
      for (const { upstream, chunks } of held.values()) for (const chunk of chunks) upstream.write(chunk);
      held.clear();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** POST to etcd's JSON gateway (int64 fields are strings there). */
async function etcd(cp: ControlPlane, path: string, body: unknown): Promise<any> {
  const res = await fetch(`${cp.etcdUrl}${path}`, { method: 'POST', body: JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`etcd ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

describe.skipIf(skip)('a watch resumed from a compacted resourceVersion (410 Gone), against a real API server and etcd', () => {
  let cp: ControlPlane;

  beforeAll(async () => {
    cp = await startControlPlane();
    await ensureNamespaces(cp.kubeConfig, 'kgateway', 'monitoring');
  });
  afterAll(async () => {
    await cp?.stop();
  });

  it('re-lists at once, catching up on a deletion the expired watch missed, then follows the cluster through the new watch', async () => {
    const started = performance.now();
    const peer = await startKubeApiserver(cp, { newPort: true, extraArgs: ['--watch-cache=false'] });
    const relay = await startHoldingRelay(peer.server);
    const viaRelay = new KubeConfig();
    viaRelay.loadFromString(readFileSync(cp.kubeconfigPath, 'utf8').replace(cp.server, relay.url));
    const lists: string[] = [];
    const watchErrors: string[] = [];
    const logs: { level: number; msg: string; resource?: string }[] = [];
    const source = new LiveClusterSource({
      api: new KubeApi(viaRelay),
      logger: pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line)) }),
      settings: viewSettings(),
      // The API server ends every watch after 2 s; each is resumed from the last resourceVersion it saw.
      watchTimeoutSeconds: { min: 2, spread: 0 },
      onList: (resource, reason) => lists.push(`${resource} ${reason}`),
      onWatchError: (resource) => watchErrors.push(resource),
    });
    // A removal by a re-list (what vanished between two lists) carries bare
    // metadata; one by a watch DELETED event, the whole object.
    const removals = vi.spyOn(source.view, 'remove');
    const grantRelists = () => lists.filter((l) => l === `${GRANTS} relist`).length;
    try {
      await source.start();
      await pollUntil('sync', async () => (source.notReadyReason() === undefined ? true : undefined), 30_000);
      const watches = lists.length;
      expect(lists).toContain(`${GRANTS} initial`);
      expect(lists.every((l) => l.endsWith(' initial'))).toBe(true);

      const kept = await create(peer.kubeConfig, PATHS.referenceGrants('monitoring'), referenceGrant({ name: 'kept', to: [{ name: 'kept' }] }));
      expect(kept.status, kept.text).toBe(201);
      const doomed = await create(peer.kubeConfig, PATHS.referenceGrants('monitoring'), referenceGrant({ name: 'doomed', to: [{ name: 'doomed' }] }));
      expect(doomed.status, doomed.text).toBe(201);
      await pollUntil('both grants in the view', async () =>
        source.view.isReferenceGranted(from, to('kept')) && source.view.isReferenceGranted(from, to('doomed')) ? true : undefined,
      );
      // The last grant event the watch delivered: it resumes from here (the
      // watches of the other kinds from their list's resourceVersion).
      const lastSeen = String(doomed.body.metadata.resourceVersion);

      // Every watch runs out its 2 s and asks again; the relay keeps the requests back.
      relay.hold();
      const held = await pollUntil('every watch to be ended by the API server and asked again', async () => (relay.heldConnections >= watches ? true : undefined), 15_000);

      // Meanwhile: a deletion no open watch can deliver, more revisions, and a compaction of all of them.
      const deleted = await kubeRequest(peer.kubeConfig, 'DELETE', `${PATHS.referenceGrants('monitoring', 'v1')}/doomed`);
      expect(deleted.status, deleted.text).toBe(200);
      for (let i = 0; i < 3; i++) {
        const filler = await create(peer.kubeConfig, '/api/v1/namespaces/monitoring/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { generateName: 'advance-revision-' } });
        expect(filler.status, filler.text).toBe(201);
      }
      const { header } = await etcd(cp, '/v3/kv/range', { key: Buffer.from('kga-revision-probe').toString('base64') });
      const revision = String(header.revision);
      expect(Number(revision)).toBeGreaterThan(Number(lastSeen) + 1);
      await etcd(cp, '/v3/kv/compaction', { revision, physical: true });
      // What the held grant watch will meet, on the wire.
      const wire = await kubeRequest(peer.kubeConfig, 'GET', `/apis/gateway.networking.k8s.io/v1/referencegrants?watch=1&allowWatchBookmarks=true&resourceVersion=${lastSeen}&timeoutSeconds=5`);
      expect(wire.text).toMatch(/"code":410/);
      expect(source.view.isReferenceGranted(from, to('doomed'))).toBe(true);

      relay.release();
      const relisted = await pollUntil('the ReferenceGrant watch to re-list', async () => (grantRelists() > 0 ? true : undefined), 15_000);
      expect(source.view.isReferenceGranted(from, to('kept'))).toBe(true);
      expect(source.view.isReferenceGranted(from, to('doomed'))).toBe(false);
      const doomedRemovals = removals.mock.calls.map(([object]) => object).filter((object) => object.metadata?.name === 'doomed');
      expect(doomedRemovals).toHaveLength(1);
      expect(doomedRemovals[0]!.metadata?.resourceVersion, 'removed by the re-list (bare metadata), not by a watch event').toBeUndefined();
      // A 410 is no failure: no error count, no warning, no backoff; the re-list says why it ran.
      expect(watchErrors).toEqual([]);
      expect(logs.filter((l) => l.level >= 40)).toEqual([]);
      expect(logs).toContainEqual(expect.objectContaining({ resource: GRANTS, msg: 'watch expired (410 Gone): re-listing' }));
      expect(logs).toContainEqual(expect.objectContaining({ resource: GRANTS, msg: 're-listed after the watch expired or failed' }));

      // And the watch started after the re-list delivers what comes next, without another list.
      const after = await create(peer.kubeConfig, PATHS.referenceGrants('monitoring'), referenceGrant({ name: 'after', to: [{ name: 'after' }] }));
      expect(after.status, after.text).toBe(201);
      const followed = await pollUntil('the grant created after the re-list', async () => (source.view.isReferenceGranted(from, to('after')) ? true : undefined));
      expect(grantRelists()).toBe(1);
      process.stderr.write(
        `[e2e] 410 Gone: all ${watches} watches held after ${held.ms.toFixed(0)} ms; compacted etcd at revision ${revision} (grant watch at ${lastSeen}); ` +
          `re-listed ${relisted.ms.toFixed(0)} ms after release; next grant through the new watch in ${followed.ms.toFixed(0)} ms; ` +
          `test ${((performance.now() - started) / 1000).toFixed(1)} s. On the wire: ${wire.status} ${wire.text.trim()}\n`,
      );
    } finally {
      await source.stop();
      await relay.close();
      await peer.stop();
    }
  });
});
