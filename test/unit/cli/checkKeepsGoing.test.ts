// `check` in a real repository: a broken document does not stop the run, it
// is a result of its own in every format; what is no Kubernetes object is
// skipped and counted; the exit code comes after the report (issue 24, 1).
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { parse, stringify } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { admissionRequest, admissionReview, gateway, httpListenerPolicy } from '../../support/builders.js';
import { runCli } from '../../support/cli.js';
import { sarifValidator } from '../../support/sarifSchema.js';
import { parseWorkflowCommand } from '../../support/workflowCommands.js';

const docs = (...objects: unknown[]) => objects.map((o) => stringify(o)).join('---\n');
const BROKEN = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [oops\n';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kga-keeps-going-'));
  await writeFile(join(dir, 'bad.yaml'), BROKEN);
  await writeFile(join(dir, 'deny.yaml'), docs(httpListenerPolicy()));
  // A stream with one broken document between two good ones.
  await writeFile(join(dir, 'stream.yaml'), `${docs(gateway({ name: 'first' }))}---\n${BROKEN}---\n${docs(httpListenerPolicy({ name: 'last' }))}`);
});

const check = (...args: string[]) => runCli(['check', ...args], { cwd: dir });

describe('check keeps going past a broken document', () => {
  it('text: evaluates deny.yaml after bad.yaml, the broken document a result with file, line and error', async () => {
    const { code, stdout } = await check('bad.yaml', 'deny.yaml');
    expect(code).toBe(1);
    expect(stdout).toMatch(/^INVALID  bad\.yaml:5\n {4}invalid YAML: /m);
    expect(stdout).toContain('DENIED   HTTPListenerPolicy kgateway/logging-policy (deny.yaml:1)');
    expect(stdout).toMatch(/^1 object: 0 allowed, 0 patched, 1 denied; 1 invalid$/m);
  });

  it('json and yaml: the broken document is a result marked invalid-manifest, in read order', async () => {
    const [json, yaml] = await Promise.all([check('--output', 'json', 'stream.yaml'), check('--output', 'yaml', 'stream.yaml')]);
    expect(json.code).toBe(1);
    const { results } = JSON.parse(json.stdout);
    expect(results.map((r: { kind: string; name: string; line: number; problem?: string }) => [r.kind, r.name, r.problem])).toEqual([
      ['Gateway', 'first', undefined],
      ['', '', 'invalid-manifest'],
      ['HTTPListenerPolicy', 'last', undefined],
    ]);
    expect(results[1]).toMatchObject({ file: 'stream.yaml', allowed: false, message: expect.stringMatching(/^invalid YAML: /) });
    expect(parse(yaml.stdout)).toEqual(JSON.parse(json.stdout));
  });

  it('sarif --output-file: written for a stream with one broken document, the error at its file and line', async () => {
    const { code } = await check('--output', 'sarif', '--output-file', 'r.sarif', 'stream.yaml');
    expect(code).toBe(1);
    const log = JSON.parse(await readFile(join(dir, 'r.sarif'), 'utf8'));
    const validate = sarifValidator();
    expect(validate(log), JSON.stringify(validate.errors)).toBe(true);
    const invalid = log.runs[0].results.find((r: { ruleId: string }) => r.ruleId === 'invalid-manifest');
    expect(invalid).toMatchObject({ level: 'error', locations: [{ physicalLocation: { artifactLocation: { uri: 'stream.yaml' }, region: { startLine: expect.any(Number) } } }] });
    expect(invalid.message.text).toContain('invalid YAML');
    expect(log.runs[0].results.map((r: { ruleId: string }) => r.ruleId)).toContain('cross-namespace-backend-refs');
  });

  it('junit: a failing testcase named by file and line', async () => {
    const { code, stdout } = await check('--output', 'junit', 'bad.yaml', 'deny.yaml');
    expect(code).toBe(1);
    expect(XMLValidator.validate(stdout)).toBe(true);
    const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => ['testsuite', 'testcase', 'failure'].includes(name) }).parse(stdout);
    expect(xml.testsuites).toMatchObject({ tests: '2', failures: '2' });
    const [bad] = xml.testsuites.testsuite;
    expect(bad.testcase[0]).toMatchObject({ name: 'bad.yaml:5', file: 'bad.yaml', line: '5' });
    expect(bad.testcase[0].failure[0].type).toBe('invalid-manifest');
  });

  it('github: an ::error annotation on the broken line', async () => {
    const { stdout } = await check('--output', 'github', 'bad.yaml', 'deny.yaml');
    const [first] = stdout.split('\n').map(parseWorkflowCommand);
    expect(first).toMatchObject({ command: 'error', properties: { file: 'bad.yaml', line: '5', title: 'invalid-manifest: bad.yaml:5' } });
  });

  it('an unreadable file: the report is still written with it as a result, then exit 2 with the file on stderr', async () => {
    const { code, stdout, stderr } = await check('--output', 'json', 'deny.yaml', 'nope.yaml');
    expect(code).toBe(2);
    const { results } = JSON.parse(stdout);
    expect(results.map((r: { file: string; problem?: string }) => [r.file, r.problem])).toEqual([
      ['deny.yaml', undefined],
      ['nope.yaml', 'unreadable-file'],
    ]);
    expect(stderr.trim()).toBe('kgateway-admission: nope.yaml: cannot read: ENOENT');
  });
});

describe('check skips what holds no Kubernetes object, with a count', () => {
  it('a typical repository: Chart.yaml, values.yaml, a Helm template, package.json, a workflow, a JSON patch, a kustomization', async () => {
    const repo = join(dir, 'repo');
    await mkdir(join(repo, 'chart', 'templates'), { recursive: true });
    await mkdir(join(repo, '.github', 'workflows'), { recursive: true });
    await writeFile(join(repo, 'chart', 'Chart.yaml'), 'apiVersion: v2\nname: demo\nversion: 1.0.0\n');
    await writeFile(join(repo, 'chart', 'values.yaml'), 'replicas: 2\nimage: {tag: "1.0"}\n');
    await writeFile(join(repo, 'chart', 'templates', 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.name }}\n{{- if .Values.data }}\ndata: {}\n{{- end }}\n');
    await writeFile(join(repo, 'package.json'), '{"name": "demo", "version": "1.0.0"}\n');
    await writeFile(join(repo, '.github', 'workflows', 'ci.yml'), 'on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n');
    await writeFile(join(repo, 'patch.json'), '[{"op": "add", "path": "/metadata/labels/x", "value": "y"}]\n');
    await writeFile(join(repo, 'kustomization.yaml'), 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [deny.yaml]\n');
    await writeFile(join(repo, 'ns.yaml'), docs({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kgateway' } }));
    const { code, stdout, stderr } = await check(repo);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^1 object: 1 allowed, 0 patched, 0 denied; 7 skipped \(no Kubernetes object\)$/m);
    const json = JSON.parse((await check('--output', 'json', repo)).stdout);
    expect(json.skipped.map((s: { file: string }) => s.file.slice(repo.length + 1)).sort()).toEqual(
      ['.github/workflows/ci.yml', 'chart/Chart.yaml', 'chart/templates/cm.yaml', 'chart/values.yaml', 'kustomization.yaml', 'package.json', 'patch.json'].sort(),
    );
  });

  it('only skipped files: exit 0 (a pre-commit run on values.yaml alone)', async () => {
    await writeFile(join(dir, 'values.yaml'), 'replicas: 2\n');
    const { code, stdout } = await check('values.yaml');
    expect(code).toBe(0);
    expect(stdout).toBe('0 objects: 0 allowed, 0 patched, 0 denied; 1 skipped (no Kubernetes object)\n');
  });
});

describe('check on an AdmissionReview file', () => {
  it("evaluates request.object and says so: a denied request is DENIED, not 'ALLOWED AdmissionReview'", async () => {
    const { code, stdout } = await runCli(['check', 'test/fixtures/admission/policy-ungranted.json']);
    expect(code).toBe(1);
    expect(stdout).toContain('DENIED   HTTPListenerPolicy kgateway/tempo-traces (test/fixtures/admission/policy-ungranted.json:1, request.object of an AdmissionReview)');
    expect(stdout).not.toContain('AdmissionReview default/');
  });

  it("takes the request's namespace when the object names none, and refuses a review without an object", async () => {
    const policy = httpListenerPolicy();
    delete policy.metadata!.namespace;
    await writeFile(join(dir, 'review.yaml'), docs({ ...admissionReview({ ...admissionRequest(policy), namespace: 'team-a' }) }));
    const json = JSON.parse((await check('--output', 'json', 'review.yaml')).stdout);
    expect(json.results[0]).toMatchObject({ kind: 'HTTPListenerPolicy', namespace: 'team-a', via: 'request.object of an AdmissionReview' });
    await writeFile(join(dir, 'delete-review.yaml'), docs(admissionReview(admissionRequest(null, 'DELETE', httpListenerPolicy()))));
    const deleted = await check('delete-review.yaml');
    expect(deleted.code).toBe(1);
    expect(deleted.stdout).toContain('INVALID  delete-review.yaml:1\n    an AdmissionReview without request.object');
  });
});
