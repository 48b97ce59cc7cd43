// A stand-in Kubernetes API server on plain HTTP (loopback) for the scale
// test: discovery of the Gateway API and kgateway groups, paginated lists of
// N ReferenceGrants (generated page by page, so this process holds none of
// them), the examples' GatewayClass and GatewayParameters, and watches that
// stay open without events, and no labelled Namespace. Enough for `serve --kubeconfig` to sync a live
// view of N grants without creating them through a real API server.
//
// Run as a process of its own by the scale part (so its work never shares the
// bench's or the server's CPU time accounting):
//   node bench/lib/standInApiServer.ts --grants N [--namespaces 1000] --kubeconfig FILE
// writes the kubeconfig, prints "ready URL", serves until SIGTERM.
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadManifests } from '#dist/cluster/manifests.js';
import type { KubeObject } from './bodies.ts';
import { grant } from './grants.ts';
import { REPO_ROOT } from './util.ts';

const GW = 'gateway.networking.k8s.io';
const KGW = 'gateway.kgateway.dev';

interface ApiResource {
  name: string;
  kind: string;
  namespaced: boolean;
  verbs?: string[];
}
const discovery: Record<string, { resources?: ApiResource[] } & Record<string, unknown>> = {
  [`/apis/${GW}`]: { kind: 'APIGroup', name: GW, versions: [{ groupVersion: `${GW}/v1`, version: 'v1' }, { groupVersion: `${GW}/v1beta1`, version: 'v1beta1' }], preferredVersion: { groupVersion: `${GW}/v1`, version: 'v1' } },
  [`/apis/${GW}/v1`]: {
    kind: 'APIResourceList',
    groupVersion: `${GW}/v1`,
    resources: [
      { name: 'referencegrants', namespaced: true, kind: 'ReferenceGrant', verbs: ['get', 'list', 'watch'] },
      { name: 'gatewayclasses', namespaced: false, kind: 'GatewayClass', verbs: ['get', 'list', 'watch'] },
      { name: 'gateways', namespaced: true, kind: 'Gateway', verbs: ['get', 'list', 'watch'] },
    ],
  },
  [`/apis/${GW}/v1beta1`]: { kind: 'APIResourceList', groupVersion: `${GW}/v1beta1`, resources: [{ name: 'referencegrants', namespaced: true, kind: 'ReferenceGrant', verbs: ['get', 'list', 'watch'] }] },
  [`/apis/${KGW}`]: { kind: 'APIGroup', name: KGW, versions: [{ groupVersion: `${KGW}/v1alpha1`, version: 'v1alpha1' }], preferredVersion: { groupVersion: `${KGW}/v1alpha1`, version: 'v1alpha1' } },
  [`/apis/${KGW}/v1alpha1`]: {
    kind: 'APIResourceList',
    groupVersion: `${KGW}/v1alpha1`,
    resources: [
      { name: 'gatewayparameters', namespaced: true, kind: 'GatewayParameters', verbs: ['get', 'list', 'watch'] },
      { name: 'httplistenerpolicies', namespaced: true, kind: 'HTTPListenerPolicy', verbs: ['get', 'list', 'watch'] },
    ],
  },
};

export interface StandInApiServer {
  url: string;
  /** LIST requests of ReferenceGrants answered so far. */
  readonly lists: number;
  kubeconfig(file: string): void;
  close(): Promise<void>;
}

export async function startStandInApiServer({ grants, namespaces, examples }: { grants: number; namespaces: number; examples: KubeObject[] }): Promise<StandInApiServer> {
  const exampleGrants = examples.filter((o) => o.kind === 'ReferenceGrant');
  const classes = examples.filter((o) => o.kind === 'GatewayClass');
  const parameters = examples.filter((o) => o.kind === 'GatewayParameters');
  const watches = new Set<http.ServerResponse>();
  const state = { lists: 0 };

  const send = (res: http.ServerResponse, status: number, body: unknown) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
  };
  const list = (kind: string, apiVersion: string, items: unknown[], res: http.ServerResponse, cont = '') =>
    send(res, 200, { kind: `${kind}List`, apiVersion, metadata: { resourceVersion: '900000', ...(cont ? { continue: cont } : {}) }, items });

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (process.env.KGA_BENCH_DEBUG) process.stderr.write(`stand-in API server: ${req.method} ${req.url}\n`);
    const p = url.pathname;
    if (discovery[p]) return send(res, 200, discovery[p]);
    if (url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1') {
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      res.flushHeaders();
      watches.add(res);
      req.on('close', () => watches.delete(res));
      return undefined;
    }
    const limit = Number(url.searchParams.get('limit') ?? 0) || Infinity;
    const start = Number(url.searchParams.get('continue') ?? 0) || 0;
    let m = /^\/apis\/gateway\.networking\.k8s\.io\/(v1|v1beta1)(?:\/namespaces\/([^/]+))?\/referencegrants$/.exec(p);
    if (m) {
      state.lists++;
      const [, version, ns] = m as unknown as [string, string, string | undefined];
      const apiVersion = `${GW}/${version}`;
      const strip = (o: KubeObject) => {
        const { apiVersion: _a, kind: _k, ...rest } = o;
        return rest;
      };
      if (ns) {
        const items = exampleGrants.filter((g) => g.metadata.namespace === ns).map(strip);
        for (let i = Number(ns.slice(3)); ns.startsWith('ns-') && i < grants; i += namespaces) items.push(strip(grant(i, namespaces, { full: true })));
        return list('ReferenceGrant', apiVersion, items, res);
      }
      const end = Math.min(grants, start + limit);
      const items: KubeObject[] = [];
      if (start === 0) items.push(...exampleGrants.map(strip));
      for (let i = start; i < end; i++) items.push(strip(grant(i, namespaces, { full: true })));
      return list('ReferenceGrant', apiVersion, items, res, end < grants ? String(end) : '');
    }
    // Namespaces (the server watches those with the enforcement label): none labelled.
    if (p === '/api/v1/namespaces') return list('Namespace', 'v1', [], res);
    if (/^\/apis\/gateway\.networking\.k8s\.io\/v1\/gatewayclasses$/.test(p)) return list('GatewayClass', `${GW}/v1`, classes, res);
    m = /^\/apis\/gateway\.kgateway\.dev\/v1alpha1(?:\/namespaces\/[^/]+)?\/gatewayparameters$/.exec(p);
    if (m) return list('GatewayParameters', `${KGW}/v1alpha1`, parameters, res);
    // Any other advertised collection (the referrer kinds the view follows) is empty.
    m = /^\/apis\/([^/]+)\/([^/]+)(?:\/namespaces\/[^/]+)?\/([^/]+)$/.exec(p);
    const collection = m;
    const advertised = collection && discovery[`/apis/${collection[1]}/${collection[2]}`]?.resources?.find((r) => r.name === collection[3]);
    if (advertised && collection) return list(advertised.kind, `${collection[1]}/${collection[2]}`, [], res);
    return send(res, 404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: `not found: ${p}`, reason: 'NotFound', code: 404 });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    get lists() {
      return state.lists;
    },
    kubeconfig(file: string) {
      writeFileSync(
        file,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [{ name: 'fake', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
          users: [{ name: 'fake', user: { token: 'bench' } }],
          contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake' } }],
          'current-context': 'fake',
        }),
      );
    },
    async close() {
      for (const res of watches) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { grants: { type: 'string' }, namespaces: { type: 'string', default: '1000' }, kubeconfig: { type: 'string' } } });
  if (!values.grants || !values.kubeconfig) throw new Error('usage: node bench/lib/standInApiServer.ts --grants N [--namespaces 1000] --kubeconfig FILE');
  const examples = (await loadManifests([path.join(REPO_ROOT, 'examples')])).map((m) => m.object as KubeObject);
  const grants = Number(values.grants);
  const api = await startStandInApiServer({ grants, namespaces: Math.min(Number(values.namespaces), grants), examples });
  api.kubeconfig(values.kubeconfig);
  process.stdout.write(`ready ${api.url}\n`);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => void api.close().finally(() => process.exit(0)));
}
