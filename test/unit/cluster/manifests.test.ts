import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { manifestClusterSource } from '../../../src/cluster/clusterSource.js';
import { InMemoryClusterView } from '../../../src/cluster/inMemoryClusterView.js';
import { loadManifests, ManifestError, parseManifests } from '../../../src/cluster/manifests.js';

describe('manifests', () => {
  it('reads multi-document YAML, skipping empty documents, with the line of each object', () => {
    const text = '# comment\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n';
    const objects = parseManifests(text, 'f.yaml');
    expect(objects.map((o) => [o.object.metadata?.name, o.line])).toEqual([
      ['a', 2],
      ['b', 7],
    ]);
  });

  it('reads JSON and expands a List', () => {
    const text = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' } }] });
    expect(parseManifests(text, 'f.json').map((o) => o.object.metadata?.name)).toEqual(['x']);
  });

  it('names the file and line of invalid YAML', () => {
    const text = 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: [unclosed\n';
    expect(() => parseManifests(text, 'bad.yaml')).toThrow(ManifestError);
    expect(() => parseManifests(text, 'bad.yaml')).toThrow(/^bad\.yaml:\d+: invalid YAML/);
  });

  it('refuses a document that is not a Kubernetes object, naming where', () => {
    expect(() => parseManifests('apiVersion: v1\nkind: Namespace\n---\njust: data\n', 'f.yaml')).toThrow('f.yaml:4: not a Kubernetes object');
    expect(() => parseManifests('- a\n- b\n', 'f.yaml')).toThrow('f.yaml:1: not a Kubernetes object');
  });

  it('walks folders recursively in a stable order and reports unreadable paths', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kga-manifests-'));
    await mkdir(join(dir, 'sub'));
    await writeFile(join(dir, 'b.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n');
    await writeFile(join(dir, 'sub', 'a.yml'), 'apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n');
    await writeFile(join(dir, 'notes.txt'), 'ignored');
    const objects = await loadManifests([dir]);
    expect(objects.map((o) => o.object.metadata?.name)).toEqual(['b', 'a']);
    await expect(loadManifests([join(dir, 'missing.yaml')])).rejects.toThrow(/missing\.yaml: cannot read: ENOENT/);
  });
});

describe('GatewayClasses in the view', () => {
  it("keeps each class's controllerName and parametersRef, read from manifest files", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kga-classes-'));
    await writeFile(
      join(dir, 'classes.yaml'),
      [
        'apiVersion: gateway.networking.k8s.io/v1',
        'kind: GatewayClass',
        'metadata: {name: with-params}',
        'spec:',
        '  controllerName: kgateway.dev/agentgateway',
        '  parametersRef: {group: gateway.kgateway.dev, kind: GatewayParameters, name: class-params, namespace: kgateway-system}',
        '---',
        'apiVersion: gateway.networking.k8s.io/v1',
        'kind: GatewayClass',
        'metadata: {name: cluster-scoped-params}',
        'spec:',
        '  controllerName: kgateway.dev/agentgateway',
        '  parametersRef: {group: example.com, kind: ProxyConfig, name: big}',
        '---',
        'apiVersion: gateway.networking.k8s.io/v1',
        'kind: GatewayClass',
        'metadata: {name: plain}',
        'spec: {controllerName: kgateway.dev/agentgateway}',
        '',
      ].join('\n'),
    );
    const { view } = await manifestClusterSource([dir]);
    expect(view.gatewayClassController('with-params')).toBe('kgateway.dev/agentgateway');
    expect(view.gatewayClassParametersRef('with-params')).toEqual({ group: 'gateway.kgateway.dev', kind: 'GatewayParameters', name: 'class-params', namespace: 'kgateway-system' });
    expect(view.gatewayClassParametersRef('cluster-scoped-params')).toEqual({ group: 'example.com', kind: 'ProxyConfig', name: 'big' });
    expect(view.gatewayClassParametersRef('plain')).toBeUndefined();
    expect(view.gatewayClassParametersRef('unknown')).toBeUndefined();
  });

  it('follows an update that adds, changes or drops the parametersRef, and a removal', () => {
    const cls = (parametersRef?: object) => ({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'GatewayClass',
      metadata: { name: 'c' },
      spec: { controllerName: 'kgateway.dev/agentgateway', ...(parametersRef ? { parametersRef } : {}) },
    });
    const view = InMemoryClusterView.fromObjects([cls()]);
    expect(view.gatewayClassParametersRef('c')).toBeUndefined();
    view.upsert(cls({ group: 'g', kind: 'K', name: 'a' }));
    expect(view.gatewayClassParametersRef('c')).toEqual({ group: 'g', kind: 'K', name: 'a' });
    view.upsert(cls({ group: 'g', kind: 'K', name: 'b', namespace: 'n' }));
    expect(view.gatewayClassParametersRef('c')).toEqual({ group: 'g', kind: 'K', name: 'b', namespace: 'n' });
    view.upsert(cls());
    expect(view.gatewayClassParametersRef('c')).toBeUndefined();
    view.upsert(cls({ group: 'g', kind: 'K', name: 'a' }));
    view.remove(cls());
    expect(view.gatewayClassParametersRef('c')).toBeUndefined();
    expect(view.gatewayClassController('c')).toBeUndefined();
  });
});
