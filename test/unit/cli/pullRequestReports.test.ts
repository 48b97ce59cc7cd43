// Reports a pull request can use (issue 24, 4): kustomize's origin
// annotation, warn-mode suggestions, --warn-exit-code, --quiet, "1 object",
// one vocabulary of rule ids and severities, --output policyreport.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { parseAllDocuments, stringify } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { auditSubjects } from '../../../src/cli/reportFormats/auditSubjects.js';
import { auditObjects } from '../../../src/audit/clusterAudit.js';
import { InMemoryClusterView, viewOptionsFor } from '../../../src/cluster/inMemoryClusterView.js';
import { evaluateManifests } from '../../../src/cli/checkResults.js';
import { buildRuleSet } from '../../../src/rules/ruleSet.js';
import { loadConfig, ruleSettings } from '../../../src/config/config.js';
import { RULE_IDS } from '../../../src/rules/vocabulary.js';
import { gateway, httpListenerPolicy } from '../../support/builders.js';
import { runCli } from '../../support/cli.js';
import { parseWorkflowCommand } from '../../support/workflowCommands.js';

const docs = (...objects: unknown[]) => objects.map((o) => stringify(o)).join('---\n');
const warnNamespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-warn', labels: { 'kgateway-admission.dev/enforcement': 'warn' } } };

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kga-pr-reports-'));
});
const check = (args: string[], input?: string) => runCli(['check', ...args], { cwd: dir, ...(input !== undefined ? { input } : {}) });

describe('kustomize build | check -', () => {
  it('SARIF, GitHub and JUnit point at the source file and line of the config.kubernetes.io/origin annotation', async () => {
    await mkdir(join(dir, 'base'), { recursive: true });
    const source = `# the team's policy\n${docs({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'first', namespace: 'kgateway' } }, httpListenerPolicy({ name: 'from-base' }))}`;
    await writeFile(join(dir, 'base', 'policy.yaml'), source);
    const line = source.split('\n').findIndex((l, i) => i > 0 && l.startsWith('apiVersion: gateway.kgateway.dev')) + 1;
    const rendered = httpListenerPolicy({ name: 'from-base' });
    rendered.metadata!.annotations = { 'config.kubernetes.io/origin': 'path: base/policy.yaml\n' };
    const stream = docs({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kgateway' } }, rendered);
    const sarif = JSON.parse((await check(['--output', 'sarif', '-'], stream)).stdout);
    expect(sarif.runs[0].results[0].locations[0].physicalLocation).toEqual({ artifactLocation: { uri: 'base/policy.yaml' }, region: { startLine: line } });
    const [annotation] = (await check(['--output', 'github', '-'], stream)).stdout.split('\n').map(parseWorkflowCommand);
    expect(annotation!.properties).toMatchObject({ file: 'base/policy.yaml', line: String(line) });
    const junit = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse((await check(['--output', 'junit', '-'], stream)).stdout);
    const suites = [junit.testsuites.testsuite].flat();
    expect(suites.map((s: { name: string }) => s.name)).toContain('base/policy.yaml');
  });
});

describe('warn mode, --warn-exit-code, --quiet', () => {
  it('a warned result carries the ReferenceGrant a denial would suggest, in JSON and text', async () => {
    await writeFile(join(dir, 'warn.yaml'), docs(warnNamespace, httpListenerPolicy({ name: 'rolling', namespace: 'team-warn' })));
    const json = JSON.parse((await check(['--output', 'json', 'warn.yaml'])).stdout);
    expect(json.results[1]).toMatchObject({ warned: true, allowed: true });
    expect(json.results[1].suggestions).toHaveLength(1);
    expect(json.results[1].suggestions[0]).toMatchObject({ kind: 'ReferenceGrant', metadata: { namespace: 'monitoring' }, spec: { from: [{ namespace: 'team-warn' }] } });
    const text = await check(['warn.yaml']);
    expect(text.stdout).toContain('    Create this ReferenceGrant in namespace monitoring to allow it:');
  });

  it('--warn-exit-code N: N on warnings alone, 1 still wins on errors; refused out of range', async () => {
    expect((await check(['warn.yaml'])).code).toBe(0);
    expect((await check(['--warn-exit-code', '3', 'warn.yaml'])).code).toBe(3);
    await writeFile(join(dir, 'deny.yaml'), docs(httpListenerPolicy({ name: 'strict' })));
    expect((await check(['--warn-exit-code', '3', 'warn.yaml', 'deny.yaml'])).code).toBe(1);
    const bad = await check(['--warn-exit-code', '0', 'warn.yaml']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--warn-exit-code must be a whole number from 1 to 255');
  });

  it('--quiet leaves out what is plainly admitted; "1 object", not "1 objects"', async () => {
    await writeFile(join(dir, 'plain.yaml'), docs({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'plain', namespace: 'a' } }));
    const loud = await check(['plain.yaml', 'deny.yaml']);
    expect(loud.stdout).toContain('ALLOWED  ConfigMap a/plain');
    const quiet = await check(['--quiet', 'plain.yaml', 'deny.yaml']);
    expect(quiet.stdout).not.toContain('ConfigMap a/plain');
    expect(quiet.stdout).toContain('DENIED   HTTPListenerPolicy kgateway/strict');
    expect(quiet.stdout).toMatch(/^2 objects: 1 allowed, 0 patched, 1 denied$/m);
    expect((await check(['plain.yaml'])).stdout).toMatch(/^1 object: 1 allowed/m);
    expect((await check(['--output', 'github', 'plain.yaml'])).stdout.trim()).toBe('kgateway-admission check: 1 object, 0 errors, 0 warnings');
  });
});

describe('one vocabulary', () => {
  it('check and audit name and rate the same objects alike: warn mode and a missing parameters object are warnings, a denial an error', async () => {
    const objects = [warnNamespace, httpListenerPolicy({ name: 'rolling', namespace: 'team-warn' }), httpListenerPolicy({ name: 'strict' }), gateway({ name: 'with-ref', spec: { gatewayClassName: 'agentgateway', infrastructure: { parametersRef: { group: 'gateway.kgateway.dev', kind: 'GatewayParameters', name: 'absent' } }, listeners: [] } })];
    const settings = ruleSettings(await loadConfig(), 'kgateway-v2.1');
    const checked = evaluateManifests(objects.map((object) => ({ object, file: 'f.yaml', line: 1 })), settings);
    const byName = (name: string) => checked.find((c) => c.result.name === name)!.findings.map((f) => [f.rule, f.level]);
    const view = InMemoryClusterView.fromObjects(objects, viewOptionsFor(settings));
    const audited = auditSubjects(objects, auditObjects(objects, buildRuleSet(settings), settings, view));
    const auditByName = (name: string) => audited.find((s) => s.name === name)!.findings.map((f) => [f.rule, f.level]);
    expect(byName('rolling')).toEqual([[RULE_IDS.crossNamespaceBackendRefs, 'warning']]);
    expect(auditByName('rolling')).toEqual([[RULE_IDS.crossNamespaceBackendRefs, 'warning']]);
    expect(byName('strict')).toEqual([[RULE_IDS.crossNamespaceBackendRefs, 'error']]);
    expect(auditByName('strict')).toEqual([[RULE_IDS.crossNamespaceBackendRefs, 'error']]);
    expect(auditByName('with-ref')).toEqual([[RULE_IDS.gatewayParametersRef, 'warning']]);
  });

  it('every admission rule is named in the vocabulary', async () => {
    const { mutating, validating } = buildRuleSet(ruleSettings(await loadConfig(), 'kgateway-v2.1'));
    const ids = new Set<string>(Object.values(RULE_IDS));
    for (const rule of [...mutating, ...validating]) expect(ids, rule.name).toContain(rule.name);
  });
});

describe('check --output policyreport', () => {
  it('openreports.io Reports, one per namespace: fail, warn and pass results with summaries', async () => {
    await writeFile(join(dir, 'bad.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: 1e3\n');
    const { code, stdout } = await check(['--output', 'policyreport', 'warn.yaml', 'deny.yaml', 'bad.yaml']);
    expect(code).toBe(1);
    const reports = parseAllDocuments(stdout).map((d) => d.toJS());
    expect(reports.map((r) => [r.apiVersion, r.kind, r.metadata.namespace])).toEqual([
      ['openreports.io/v1alpha1', 'ClusterReport', undefined],
      ['openreports.io/v1alpha1', 'Report', 'kgateway'],
      ['openreports.io/v1alpha1', 'Report', 'team-warn'],
    ]);
    const [cluster, kgateway, teamWarn] = reports;
    expect(cluster.results).toMatchObject([{ rule: 'invalid-manifest', result: 'error', properties: { file: 'bad.yaml', line: '4' } }]);
    expect(kgateway.summary).toMatchObject({ fail: 1 });
    expect(kgateway.results[0]).toMatchObject({ source: 'kgateway-admission', policy: 'kgateway-admission', rule: 'cross-namespace-backend-refs', result: 'fail', resources: [{ kind: 'HTTPListenerPolicy', name: 'strict' }] });
    expect(teamWarn.results.map((r: { rule: string; result: string }) => [r.rule, r.result])).toEqual([['cross-namespace-backend-refs', 'warn']]);
  });
});
