import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
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
    // The agentgateway 1.4 set beside it: its Gateway is not one of kgateway-v2.1's.
    expect(stdout).toContain('ALLOWED  AgentgatewayPolicy team-a/otel');
    expect(stdout).toMatch(/15 objects: 14 allowed, 1 patched, 0 denied$/m);
  });

  it('admits the agentgateway 1.4 example set on its profile, pointing its Gateway at its AgentgatewayParameters', async () => {
    const { code, stdout } = await runCli(['check', '--profile', 'agentgateway-v1', 'examples/agentgateway-v1.4']);
    expect(code).toBe(0);
    expect(stdout).toContain('PATCHED  Gateway team-a/agentgateway');
    expect(stdout).toContain('{"parametersRef":{"group":"agentgateway.dev","kind":"AgentgatewayParameters","name":"agentgateway-otel"}}');
    expect(stdout).toMatch(/7 objects: 6 allowed, 1 patched, 0 denied$/m);
    // Without its grant the policy is denied, both refs named.
    const withoutGrant = await file('no-grant.yaml', await readFile('examples/agentgateway-v1.4/50-agentgatewaypolicy-otel.yaml', 'utf8'));
    const denied = await runCli(['check', '--profile', 'agentgateway-v1', withoutGrant]);
    expect(denied.code).toBe(1);
    expect(denied.stdout).toContain('spec.frontend.tracing.backendRef: Service observability/otel-collector');
    expect(denied.stdout).toContain('spec.frontend.accessLog.otlp.backendRef: Service observability/otel-collector');
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
      warnings: ['parametersRef not added: create GatewayParameters kgateway/agentgateway-otel, then re-apply the Gateway'],
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
    // The target's owner has the last word: a ref into a namespace labelled deny is denied even from a warn namespace.
    const locked = await file('locked.yaml', docs(labelled('team-warn', 'warn'), labelled('monitoring', 'deny'), httpListenerPolicy({ name: 'rolling', namespace: 'team-warn' })));
    const lockedRun = await runCli(['check', '--config', warnConfig, locked]);
    expect(lockedRun.code).toBe(1);
    expect(lockedRun.stdout).toContain('DENIED   HTTPListenerPolicy team-warn/rolling');
    expect(lockedRun.stdout).toContain('Namespace monitoring has label kgateway-admission.dev/enforcement=deny');
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
    expect(bad.stderr).toContain('--profile must be one of kgateway-v2.1, agentgateway-v2.2, kgateway-v2.3, kgateway-v2.4, agentgateway-v1');
  });

  it('follows --profile agentgateway-v1: standalone agentgateway\'s controller name and AgentgatewayParameters', async () => {
    const params = { apiVersion: 'agentgateway.dev/v1alpha1', kind: 'AgentgatewayParameters', metadata: { name: 'agentgateway-otel', namespace: 'kgateway' }, spec: {} };
    const gatewayClass = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'agw' }, spec: { controllerName: 'agentgateway.dev/agentgateway' } };
    const oldName = { ...gatewayClass, metadata: { name: 'old' }, spec: { controllerName: 'kgateway.dev/agentgateway' } };
    const path = await file('v1.yaml', docs(gatewayClass, oldName, gateway({ className: 'agw', name: 'a' }), gateway({ className: 'old', name: 'b' }), params));
    const { code, stdout } = await runCli(['check', '--output', 'json', '--config', await file('c.yaml', 'mutation:\n  gatewayClassNames: []\n'), '--profile', 'agentgateway-v1', path]);
    expect(code).toBe(0);
    const [a, b] = JSON.parse(stdout).results.filter((r: { kind: string }) => r.kind === 'Gateway');
    expect(a.patch[0].value).toEqual({ parametersRef: { group: 'agentgateway.dev', kind: 'AgentgatewayParameters', name: 'agentgateway-otel' } });
    expect(b.patch).toEqual([]);
  });

  it('follows validation.grantModes in --config: agentgateway route admits a policy backendRef with a warning', async () => {
    const policy = {
      apiVersion: 'agentgateway.dev/v1alpha1',
      kind: 'AgentgatewayPolicy',
      metadata: { name: 'otel', namespace: 'team-a' },
      spec: { targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' }], frontend: { tracing: { backendRef: { name: 'collector', namespace: 'monitoring', port: 4317 } } } },
    };
    const path = await file('agw.yaml', docs(policy));
    const strict = await runCli(['check', '--output', 'json', path]);
    expect(strict.code).toBe(1);
    const route = await runCli(['check', '--output', 'json', '--config', await file('route.yaml', 'validation:\n  grantModes:\n    agentgateway: route\n'), path]);
    expect(route.code).toBe(0);
    expect(JSON.parse(route.stdout).results[0].warnings).toEqual(['admitted: the controller does not check it either, no ReferenceGrant allows Service monitoring/collector']);
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

  it('reports invalid YAML as a result with file and line (exit 1), skips a document that is no object, and writes the report before exit 2 for an unreadable path', async () => {
    const bad = await runCli(['check', await file('bad.yaml', 'apiVersion: v1\nkind: X\nmetadata:\n  name: [oops\n')]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^INVALID  \S*bad\.yaml:\d+\n {4}invalid YAML/m);
    const data = await runCli(['check', await file('data.yaml', 'apiVersion: v1\nkind: Namespace\n---\nfoo: bar\n')]);
    expect(data.code).toBe(0);
    expect(data.stdout).toContain('1 object: 1 allowed, 0 patched, 0 denied; 1 skipped (no Kubernetes object)');
    const missing = await runCli(['check', join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.yaml: cannot read: ENOENT/);
    expect(missing.stdout).toMatch(/^UNREADABLE \S*nope\.yaml\n {4}cannot read: ENOENT/m);
  });
});

describe('check -n/--namespace', () => {
  it('puts namespaced objects that name none in NS (a grant for team-a then allows them), leaves the others alone', async () => {
    const policy = httpListenerPolicy({ name: 'no-ns' });
    delete policy.metadata!.namespace;
    const grant = referenceGrant({ from: [{ namespace: 'team-a' }] });
    const gatewayClassObject = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'agentgateway' }, spec: { controllerName: 'kgateway.dev/agentgateway' } };
    const path = await file('no-namespace.yaml', docs(policy, grant, gatewayClassObject, httpListenerPolicy({ name: 'own', namespace: 'kgateway' })));
    const without = await runCli(['check', '--output', 'json', path]);
    expect(JSON.parse(without.stdout).results[0]).toMatchObject({ name: 'no-ns', namespace: 'default', allowed: false });
    const { code, stdout } = await runCli(['check', '--output', 'json', '-n', 'team-a', path]);
    const results = JSON.parse(stdout).results.map((r: { name: string; namespace: string; allowed: boolean }) => [r.name, r.namespace, r.allowed]);
    expect(results).toEqual([
      ['no-ns', 'team-a', true],
      [grant.metadata!.name, 'monitoring', true],
      ['agentgateway', '', true],
      ['own', 'kgateway', false],
    ]);
    expect(code).toBe(1);
    const bad = await runCli(['check', '--namespace', 'Team_A', path]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--namespace must be a DNS label');
  });
});
