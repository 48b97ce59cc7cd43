// Each report format read back by what reads it: a YAML parser, an XML parser,
// the SARIF 2.1.0 JSON schema, the Actions runner's workflow-command syntax.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { parse, stringify } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { formatGithubCommands } from '../../../src/cli/reportFormats/githubCommands.js';
import { formatJunit } from '../../../src/cli/reportFormats/junit.js';
import type { Report } from '../../../src/cli/reportFormats/report.js';
import { formatSarif } from '../../../src/cli/reportFormats/sarif.js';
import { gateway, httpListenerPolicy } from '../../support/builders.js';
import { runCli } from '../../support/cli.js';
import { sarifValidator } from '../../support/sarifSchema.js';
import { parseWorkflowCommand } from '../../support/workflowCommands.js';

// A name no cluster would take, but check reads whatever it is given: every
// character that XML, SARIF URIs or workflow-command properties must escape.
const ODD_NAME = 'odd,name:<&"%>';
const namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kgateway' } };
const denied = httpListenerPolicy({ name: ODD_NAME });
const warned = gateway({ name: 'plain' }); // no GatewayParameters in the input: a warning
const docs = (...objects: unknown[]) => objects.map((o) => stringify(o)).join('---\n');
/** The line of each document's first key, as check reports it. */
const startLines = (text: string) => text.split('\n').flatMap((line, i) => (line.startsWith('apiVersion:') ? [i + 1] : []));

let dir: string;
let bundleText: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kga-report-'));
  bundleText = `# the policy is denied, the Gateway warned\n${docs(warned, denied)}`;
  await writeFile(join(dir, 'bundle.yaml'), bundleText);
  await writeFile(join(dir, 'namespaces.yaml'), docs(namespace));
});

const check = (...args: string[]) => runCli(['check', ...args, 'bundle.yaml', 'namespaces.yaml'], { cwd: dir });

describe('check --output', () => {
  it('json: each result carries file and line where its object starts', async () => {
    const { code, stdout } = await check('--output', 'json');
    expect(code).toBe(1);
    const [gatewayLine, policyLine] = startLines(bundleText);
    const { results } = JSON.parse(stdout);
    expect(results.map((r: { kind: string; file: string; line: number }) => [r.kind, r.file, r.line])).toEqual([
      ['Gateway', 'bundle.yaml', gatewayLine],
      ['HTTPListenerPolicy', 'bundle.yaml', policyLine],
      ['Namespace', 'namespaces.yaml', 1],
    ]);
  });

  it('yaml: the same document as json', async () => {
    const [json, yaml] = await Promise.all([check('--output', 'json'), check('--output', 'yaml')]);
    expect(yaml.code).toBe(1);
    expect(parse(yaml.stdout)).toEqual(JSON.parse(json.stdout));
  });

  it('junit: one testsuite per file, one testcase per object, a failure per denial; only XML on stdout', async () => {
    const { code, stdout, stderr } = await check('--output', 'junit');
    expect(code).toBe(1);
    expect(stderr).toBe('');
    expect(XMLValidator.validate(stdout)).toBe(true);
    const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => ['testsuite', 'testcase', 'failure'].includes(name) }).parse(stdout);
    const suites = xml.testsuites.testsuite;
    expect(xml.testsuites).toMatchObject({ tests: '3', failures: '1' });
    expect(suites.map((s: { name: string; tests: string; failures: string }) => [s.name, s.tests, s.failures])).toEqual([
      ['bundle.yaml', '2', '1'],
      ['namespaces.yaml', '1', '0'],
    ]);
    const [gatewayCase, policyCase] = suites[0].testcase;
    expect(gatewayCase.name).toBe('Gateway kgateway/plain');
    expect(gatewayCase.failure).toBeUndefined();
    expect(gatewayCase['system-out']).toContain('warning (gateway-parameters-ref): parametersRef not added: create GatewayParameters kgateway/agentgateway-otel');
    expect(policyCase.name).toBe(`HTTPListenerPolicy kgateway/${ODD_NAME}`);
    expect(policyCase.line).toBe(String(startLines(bundleText)[1]));
    expect(policyCase.failure).toHaveLength(1);
    expect(policyCase.failure[0].type).toBe('cross-namespace-backend-refs');
    expect(policyCase.failure[0]['#text']).toContain('Create this ReferenceGrant in namespace monitoring');
    expect(suites[1].testcase[0]).toMatchObject({ name: 'Namespace kgateway', file: 'namespaces.yaml', line: '1' });
  });

  it('sarif: valid SARIF 2.1.0, one rule per rule that found something, one result per finding at file and line', async () => {
    const { code, stdout, stderr } = await check('--output', 'sarif');
    expect(code).toBe(1);
    expect(stderr).toBe('');
    const log = JSON.parse(stdout);
    const validate = sarifValidator();
    expect(validate(log), JSON.stringify(validate.errors, null, 2)).toBe(true);
    const [run] = log.runs;
    expect(run.tool.driver.rules.map((r: { id: string }) => r.id)).toEqual(['gateway-parameters-ref', 'cross-namespace-backend-refs']);
    const [gatewayLine, policyLine] = startLines(bundleText);
    expect(
      run.results.map((r: { ruleId: string; ruleIndex: number; level: string; locations: { physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } } }[] }) => [
        r.ruleId,
        r.ruleIndex,
        r.level,
        r.locations[0]!.physicalLocation.artifactLocation.uri,
        r.locations[0]!.physicalLocation.region.startLine,
      ]),
    ).toEqual([
      ['gateway-parameters-ref', 0, 'warning', 'bundle.yaml', gatewayLine],
      ['cross-namespace-backend-refs', 1, 'error', 'bundle.yaml', policyLine],
    ]);
    expect(run.results[1].message.text).toContain('Create this ReferenceGrant in namespace monitoring');
  });

  it('the SARIF schema check can fail', () => {
    const validate = sarifValidator();
    expect(validate({ version: '2.1.0', runs: [{ tool: { driver: {} } }] })).toBe(false);
    expect(validate({ version: '2.1.0', runs: [{ tool: { driver: { name: 'x' } }, results: [{ message: { text: 'm' }, level: 'fatal' }] }] })).toBe(false);
    expect(validate({ version: '2.1.0', runs: [{ tool: { driver: { name: 'x' } }, results: [{ message: { text: 'm' }, locations: [{ physicalLocation: { artifactLocation: { uri: 'a b' } } }] }] }] })).toBe(false);
  });

  it('github: an ::error per denial and a ::warning per warning, with file, line and title, as the runner parses them', async () => {
    const [{ code, stdout }, json] = await Promise.all([check('--output', 'github'), check('--output', 'json')]);
    expect(code).toBe(1);
    const lines = stdout.trimEnd().split('\n');
    expect(lines.at(-1)).toBe('kgateway-admission check: 3 objects, 1 error, 1 warning');
    const commands = lines.slice(0, -1).map(parseWorkflowCommand);
    const [gatewayLine, policyLine] = startLines(bundleText);
    const { results } = JSON.parse(json.stdout);
    expect(commands).toEqual([
      { command: 'warning', properties: { file: 'bundle.yaml', line: String(gatewayLine), title: 'gateway-parameters-ref: Gateway kgateway/plain' }, data: results[0].warnings[0] },
      { command: 'error', properties: { file: 'bundle.yaml', line: String(policyLine), title: `cross-namespace-backend-refs: HTTPListenerPolicy kgateway/${ODD_NAME}` }, data: results[1].message },
    ]);
    // A multi-line message stays one command line.
    expect(results[1].message).toContain('\n');
  });

  it('github: an object admitted in warn mode is a ::warning of the rule that would deny it', async () => {
    const warnNamespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-warn', labels: { 'kgateway-admission.dev/enforcement': 'warn' } } };
    await writeFile(join(dir, 'warn.yaml'), docs(warnNamespace, httpListenerPolicy({ name: 'rolling', namespace: 'team-warn' })));
    const { code, stdout } = await runCli(['check', '--output', 'github', 'warn.yaml'], { cwd: dir });
    expect(code).toBe(0);
    const [command] = stdout.split('\n').map(parseWorkflowCommand);
    expect(command).toMatchObject({ command: 'warning', properties: { file: 'warn.yaml', title: 'cross-namespace-backend-refs: HTTPListenerPolicy team-warn/rolling' } });
    expect(command!.data).toContain('admitted in warn mode');
  });

  it('--output-file writes the report there and the text report to stdout', async () => {
    const { code, stdout } = await check('--output', 'sarif', '--output-file', 'out.sarif');
    expect(code).toBe(1);
    expect(stdout).toContain(`DENIED   HTTPListenerPolicy kgateway/${ODD_NAME} (bundle.yaml:`);
    expect(sarifValidator()(JSON.parse(await readFile(join(dir, 'out.sarif'), 'utf8')))).toBe(true);
    const unwritable = await check('--output', 'junit', '--output-file', join(dir, 'no/such/dir/out.xml'));
    expect(unwritable.code).toBe(2);
    expect(unwritable.stderr).toMatch(/cannot write --output-file .*out\.xml: ENOENT/);
  });

  it('rejects an unknown format, naming the ones there are', async () => {
    const { code, stderr, stdout } = await check('--output', 'xml');
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('check: --output must be one of text, json, yaml, junit, sarif, github, got "xml"');
  });
});

describe('check - (stdin)', () => {
  it('reads one YAML stream, counting lines in that stream, beside files', async () => {
    const stream = `# rendered by kustomize\n${docs(namespace, denied)}`;
    const { code, stdout } = await runCli(['check', '--output', 'json', '-', 'namespaces.yaml'], { cwd: dir, input: stream });
    expect(code).toBe(1);
    const lines = startLines(stream);
    expect(JSON.parse(stdout).results.map((r: { kind: string; file: string; line: number }) => [r.kind, r.file, r.line])).toEqual([
      ['Namespace', '<stdin>', lines[0]],
      ['HTTPListenerPolicy', '<stdin>', lines[1]],
      ['Namespace', 'namespaces.yaml', 1],
    ]);
  });

  it('names stdin in errors, and takes it only once', async () => {
    const bad = await runCli(['check', '-'], { cwd: dir, input: 'apiVersion: v1\nkind: Namespace\n---\nfoo: [bar\n' });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^INVALID  <stdin>:\d+\n {4}invalid YAML/m);
    const twice = await runCli(['check', '-', '-'], { cwd: dir, input: '' });
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain('can be named only once');
    const empty = await runCli(['check', '-'], { cwd: dir, input: '' });
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('no Kubernetes objects found in -');
  });
});

describe('reports of objects without a file (audit reads a cluster)', () => {
  const report: Report = {
    command: 'audit',
    version: '0.1.0',
    subjects: [
      { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', namespace: 'kgateway', name: 'bare', findings: [{ rule: 'missing-parametersRef', level: 'error', message: 'no ref' }] },
      { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', namespace: '', name: 'agentgateway', findings: [] },
      { apiVersion: 'x/v1', kind: 'Thing', namespace: 'kgateway', name: 'new', findings: [{ rule: 'class-parametersRef', level: 'error', message: 'a problem no formatter knows' }] },
    ],
  };

  it('sarif: valid, with a logical location and a rule for every problem, known or new', () => {
    const log = JSON.parse(formatSarif(report));
    expect(sarifValidator()(log)).toBe(true);
    expect(log.runs[0].tool.driver.rules.map((r: { id: string }) => r.id)).toEqual(['missing-parametersRef', 'class-parametersRef']);
    expect(log.runs[0].results[0].locations).toEqual([{ logicalLocations: [{ fullyQualifiedName: 'Gateway kgateway/bare', kind: 'resource' }] }]);
  });

  it('junit: one testsuite per namespace, cluster-scoped objects in their own', () => {
    const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => ['testsuite', 'testcase'].includes(name) }).parse(formatJunit(report));
    expect(xml.testsuites.testsuite.map((s: { name: string; tests: string; failures: string }) => [s.name, s.tests, s.failures])).toEqual([
      ['namespace kgateway', '2', '2'],
      ['cluster-scoped', '1', '0'],
    ]);
  });

  it('junit: characters XML cannot carry become U+FFFD, and the document stays well-formed', () => {
    const odd: Report = { ...report, subjects: [{ ...report.subjects[0]!, findings: [{ rule: 'x', level: 'error', message: 'nul\u0000 bell\u0007 lone\uD800 end' }] }] };
    const text = formatJunit(odd);
    expect(XMLValidator.validate(text)).toBe(true);
    const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(text);
    expect(xml.testsuites.testsuite.testcase.failure['#text']).toBe('nul\uFFFD bell\uFFFD lone\uFFFD end');
  });

  it('github: annotations without file or line', () => {
    const [first] = formatGithubCommands(report).split('\n');
    expect(parseWorkflowCommand(first!)).toEqual({ command: 'error', properties: { title: 'missing-parametersRef: Gateway kgateway/bare' }, data: 'no ref' });
  });
});
