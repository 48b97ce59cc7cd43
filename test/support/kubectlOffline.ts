import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtemp, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * kubectl needs an API server only to map kinds to resources (discovery):
 * `kubectl create --dry-run=client -o json -f FILE` reads, decodes and prints
 * the objects itself. This loopback server answers the legacy discovery
 * documents for the kinds the tests use, and nothing else.
 */
const GROUPS: Record<string, [version: string, resources: [plural: string, kind: string, namespaced: boolean][]]> = {
  'gateway.kgateway.dev': ['v1alpha1', [['httplistenerpolicies', 'HTTPListenerPolicy', true], ['gatewayparameters', 'GatewayParameters', true]]],
  'gateway.networking.k8s.io': ['v1', [['gateways', 'Gateway', true], ['referencegrants', 'ReferenceGrant', true], ['gatewayclasses', 'GatewayClass', false]]],
};
const CORE: [string, string, boolean][] = [['configmaps', 'ConfigMap', true], ['namespaces', 'Namespace', false], ['services', 'Service', true]];

function resourceList(groupVersion: string, resources: [string, string, boolean][]) {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion,
    resources: resources.map(([name, kind, namespaced]) => ({ name, singularName: kind.toLowerCase(), namespaced, kind, verbs: ['create', 'get', 'list'] })),
  };
}

function discovery(path: string): unknown {
  if (path === '/api') return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] };
  if (path === '/api/v1') return resourceList('v1', CORE);
  if (path === '/apis') {
    return {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: Object.entries(GROUPS).map(([name, [version]]) => ({ name, versions: [{ groupVersion: `${name}/${version}`, version }], preferredVersion: { groupVersion: `${name}/${version}`, version } })),
    };
  }
  const match = /^\/apis\/([^/]+)\/([^/]+)$/.exec(path);
  const group = match ? GROUPS[match[1]!] : undefined;
  return group && group[0] === match![2] ? resourceList(`${match![1]}/${match![2]}`, group[1]) : undefined;
}

export interface OfflineKubectl {
  /** Runs kubectl with this kubeconfig and a private HOME (its discovery cache). */
  run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  close(): Promise<void>;
}

export async function offlineKubectl(): Promise<OfflineKubectl> {
  const server: Server = createServer((req, res) => {
    const body = discovery((req.url ?? '').split('?')[0]!);
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body ?? { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 404 }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const home = await mkdtemp(join(tmpdir(), 'kga-kubectl-'));
  const kubeconfig = join(home, 'kubeconfig');
  await writeFile(
    kubeconfig,
    `apiVersion: v1\nkind: Config\nclusters:\n- name: discovery\n  cluster: {server: "http://127.0.0.1:${port}"}\ncontexts:\n- name: discovery\n  context: {cluster: discovery, user: nobody}\ncurrent-context: discovery\nusers:\n- name: nobody\n  user: {}\n`,
  );
  return {
    run: (args) =>
      new Promise((resolve, reject) => {
        execFile('kubectl', ['--kubeconfig', kubeconfig, ...args], { env: { PATH: process.env.PATH ?? '', HOME: home }, timeout: 30_000 }, (error, stdout, stderr) => {
          if (error && typeof error.code !== 'number') reject(new Error(`kubectl did not run (is it on PATH?): ${error.message}`));
          else resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
        });
      }),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** kubectl's `-o json` for several objects: one pretty JSON document after another. */
export function splitJsonObjects(text: string): unknown[] {
  if (text.trim() === '') return [];
  return text
    .trim()
    .split(/(?<=^\})\n(?=\{)/m)
    .map((part) => JSON.parse(part) as unknown);
}
