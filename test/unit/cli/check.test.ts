import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { gateway, httpListenerPolicy, referenceGrant } from '../../support/builders.js';
import { runCli } from '../../support/cli.js';

let dir: string;
const file = async (name: string, content: string) => {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
};
const docs = (...objects: unknown[]) => objects.map((o) => stringify(o)).join('---\n');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kga-check-'));
});

describe('kgateway-admission check', () => {
  it('admits the bundled examples, patching the Gateway (exit 0)', async () => {
    const { code, stdout } = await runCli(['check', 'examples/']);
    expect(code).toBe(0);
    expect(stdout).toContain('PATCHED  Gateway kgateway/agentgateway (examples/40-gateway.yaml:');
    expect(stdout).toContain('ALLOWED  HTTPListenerPolicy kgateway/logging-policy');
    expect(stdout).toMatch(/8 objects: 7 allowed, 1 patched, 0 denied$/m);
  });

  it('prints one JSON result per object and exits 1 when something is denied', async () => {
    const path = await file('bundle.yaml', docs(gateway(), httpListenerPolicy(), { ...gateway({ name: 'plain', className: 'kgateway' }), metadata: { name: 'plain' } }));
    const { code, stdout } = await runCli(['check', '--output', 'json', path]);
    expect(code).toBe(1);
    const { results } = JSON.parse(stdout);
    expect(results).toHaveLength(3);
    expect(results[0]).toEqual({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      namespace: 'kgateway',
      name: 'agentgateway',
      file: path,
      line: 1,
      allowed: true,
      warned: false,
      message: '',
      patch: [],
      warnings: ['no GatewayParameters kgateway/agentgateway-otel: parametersRef not added; create it, then re-apply the Gateway'],
      suggestions: [],
    });
    expect(results[1]).toMatchObject({ kind: 'HTTPListenerPolicy', namespace: 'kgateway', name: 'logging-policy', allowed: false, patch: [], warnings: [] });
    expect(results[1].message).toContain('Create this ReferenceGrant in namespace monitoring');
    // The grant the message shows as YAML, as JSON.
    expect(results[1].suggestions).toEqual([
      {
        apiVersion: 'gateway.networking.k8s.io/v1beta1',
        kind: 'ReferenceGrant',
        metadata: { name: expect.stringMatching(/^allow-httplistenerpolicy-from-kgateway-to-service-otel-collector-collector-[0-9a-f]{8}$/), namespace: 'monitoring' },
        spec: { from: [{ group: 'gateway.kgateway.dev', kind: 'HTTPListenerPolicy', namespace: 'kgateway' }], to: [{ group: '', kind: 'Service', name: 'otel-collector-collector' }] },
      },
    ]);
    expect(results[1].message).toContain(`name: ${results[1].suggestions[0].metadata.name}`);
    expect(results[2]).toMatchObject({ name: 'plain', namespace: 'default', allowed: true, patch: [] });
  });

  it('takes ReferenceGrants in the input as the cluster state (v1 and v1beta1)', async () => {
    for (const version of ['v1', 'v1beta1']) {
      const path = await file(`granted-${version}.yaml`, docs(httpListenerPolicy(), referenceGrant({ version })));
      const { code, stdout } = await runCli(['check', path]);
      expect(code, stdout).toBe(0);
    }
  });

  it('takes the enforcement label of Namespaces in the input: warned objects are admitted (exit 0), others still denied', async () => {
    const labelled = (name: string, value: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'kgateway-admission.dev/enforcement': value } } });
    const path = await file(
      'rollout.yaml',
      docs(labelled('team-warn', 'warn'), httpListenerPolicy({ name: 'rolling', namespace: 'team-warn' }), httpListenerPolicy({ name: 'strict', namespace: 'team-deny' })),
    );
    const { code, stdout } = await runCli(['check', path]);
    expect(code).toBe(1);
    expect(stdout).toContain('WARNED   HTTPListenerPolicy team-warn/rolling');
    expect(stdout).toContain('    warning: admitted in warn mode: no ReferenceGrant allows Service monitoring/otel-collector-collector');
    expect(stdout).toContain('DENIED   HTTPListenerPolicy team-deny/strict');
    expect(stdout).toMatch(/3 objects: 1 allowed, 0 patched, 1 warned, 1 denied$/m);
    const json = JSON.parse((await runCli(['check', '--output', 'json', path])).stdout);
    expect(json.results.map((r: { name: string; allowed: boolean; warned: boolean }) => [r.name, r.allowed, r.warned])).toEqual([
      ['team-warn', true, false],
      ['rolling', true, true],
      ['strict', false, false],
    ]);
    // validation.enforcement: warn admits both; the label can still say deny.
    const warnConfig = await file('warn.yaml', 'validation:\n  enforcement: warn\n');
    const strict = await file('strict-ns.yaml', docs(labelled('team-deny', 'deny'), httpListenerPolicy({ name: 'strict', namespace: 'team-deny' }), httpListenerPolicy({ name: 'loose', namespace: 'other' })));
    const mixed = await runCli(['check', '--config', warnConfig, strict]);
    expect(mixed.code).toBe(1);
    expect(mixed.stdout).toContain('DENIED   HTTPListenerPolicy team-deny/strict');
    expect(mixed.stdout).toContain('WARNED   HTTPListenerPolicy other/loose');
    const bad = await runCli(['check', '--config', await file('bad-enforcement.yaml', 'validation:\n  enforcement: audit\n'), strict]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('validation.enforcement: must be one of deny, warn');
  });

  it('uses --config', async () => {
    const config = await file('config.yaml', 'mutation:\n  gatewayClassNames: [ai]\n');
    // The parameters object beside the Gateways, so the ref is added.
    const params = { apiVersion: 'gateway.kgateway.dev/v1alpha1', kind: 'GatewayParameters', metadata: { name: 'agentgateway-otel', namespace: 'kgateway' }, spec: {} };
    const path = await file('ai.yaml', docs(gateway({ className: 'ai' }), gateway({ name: 'default-class' }), params));
    const { code, stdout } = await runCli(['check', '--output', 'json', '--config', config, path]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout).results.map((r: { patch: unknown[] }) => r.patch.length)).toEqual([1, 0, 0]);
  });

  it('follows --profile: agentgateway-v2.2 points at AgentgatewayParameters', async () => {
    const params = { apiVersion: 'agentgateway.dev/v1alpha1', kind: 'AgentgatewayParameters', metadata: { name: 'agentgateway-otel', namespace: 'kgateway' }, spec: {} };
    const path = await file('v22.yaml', docs(gateway(), params));
    const { code, stdout } = await runCli(['check', '--output', 'json', '--profile', 'agentgateway-v2.2', path]);
    expect(code).toBe(0);
    const [gw] = JSON.parse(stdout).results;
    expect(gw.patch[0].value).toEqual({ parametersRef: { group: 'agentgateway.dev', kind: 'AgentgatewayParameters', name: 'agentgateway-otel' } });
    expect(gw.warnings).toEqual([]);
    const bad = await runCli(['check', '--profile', 'kgateway-v9', path]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--profile must be one of kgateway-v2.1, agentgateway-v2.2');
  });

  it('checks the other kinds of the table, e.g. a GatewayExtension', async () => {
    const extension = {
      apiVersion: 'gateway.kgateway.dev/v1alpha1',
      kind: 'GatewayExtension',
      metadata: { name: 'ext-auth', namespace: 'apps' },
      spec: { extAuth: { grpcService: { backendRef: { name: 'authz', namespace: 'auth', port: 9000 } } } },
    };
    const { code, stdout } = await runCli(['check', await file('ext.yaml', docs(extension))]);
    expect(code).toBe(1);
    expect(stdout).toContain('- spec.extAuth.grpcService.backendRef: Service auth/authz');
  });

  it.each<[string, () => Promise<string[]>, RegExp]>([
    ['invalid YAML, with file and line', async () => ['check', await file('bad.yaml', 'apiVersion: v1\nkind: X\nmetadata:\n  name: [oops\n')], /bad\.yaml:\d+: invalid YAML/],
    ['a non-Kubernetes document', async () => ['check', await file('data.yaml', 'apiVersion: v1\nkind: Namespace\n---\nfoo: bar\n')], /data\.yaml:4: not a Kubernetes object/],
    ['an unreadable path', async () => ['check', join(dir, 'nope.yaml')], /nope\.yaml: cannot read: ENOENT/],
    ['empty input', async () => ['check', await file('empty.yaml', '# nothing\n')], /no Kubernetes objects found/],
    ['no path', async () => ['check'], /name at least one file or folder/],
    ['a bad --output', async () => ['check', '--output', 'xml', 'examples'], /--output must be one of text, json/],
    ['an unknown option', async () => ['check', '--frobnicate', 'examples'], /Unknown option '--frobnicate'/],
    ['an invalid config', async () => ['check', '--config', await file('badconf.yaml', 'logLevel: loud\n'), 'examples'], /logLevel: must be one of/],
    ['an unknown command', async () => ['frobnicate'], /unknown command "frobnicate"/],
  ])('exits 2 on %s', async (_name, args, message) => {
    const { code, stderr, stdout } = await runCli(await args());
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(stdout).toBe('');
  });
});
