// check reads manifests as kubectl does (issue 24, 2): each document of a
// corpus of tricky YAML is read by check's reader and by
// `kubectl create --dry-run=client -o json -f`; both give the same objects,
// or both refuse. kubectl (1.32, on PATH) asks only a loopback discovery
// server for the kinds (test/support/kubectlOffline.ts).
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readManifestText } from '../../../src/cluster/manifests.js';
import { runCli } from '../../support/cli.js';
import { offlineKubectl, splitJsonObjects, type OfflineKubectl } from '../../support/kubectlOffline.js';

const POLICY_HEAD = 'apiVersion: gateway.kgateway.dev/v1alpha1\nkind: HTTPListenerPolicy\n';
const CM = (metadata: string, rest = '') => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n${metadata}${rest}`;

/** Each case: its name, the text, and whether kubectl refuses some document of it (so no case passes by both refusing everything). */
const CORPUS: [name: string, text: string, refused: boolean][] = [
  [
    'a merge key that brings in a cross-namespace backendRef',
    `${POLICY_HEAD}metadata:\n  name: traces\n  namespace: kgateway\nx-refs:\n  tempo: &ref {name: tempo, namespace: tracing, port: 4317}\nspec:\n  tracing:\n    provider:\n      openTelemetry:\n        grpcService:\n          backendRef: {<<: *ref}\n`,
    false,
  ],
  ['a merge that comes after an explicit key (go-yaml: the merged value wins)', CM('  name: m1\n  namespace: apps\n', 'base: &b {a: merged, b: 2}\ndata: {a: explicit, <<: *b}\n'), false],
  ['a merge before an explicit key', CM('  name: m2\n  namespace: apps\n', 'base: &b {a: merged, b: "2"}\ndata: {<<: *b, a: explicit}\n'), false],
  ['a merge of a sequence of maps (the first wins)', CM('  name: m3\n  namespace: apps\n', 'one: &one {a: "1"}\ntwo: &two {a: "2", b: "2"}\ndata:\n  <<: [*one, *two]\n'), false],
  ['a quoted "<<" is a plain key', CM('  name: m4\n  namespace: apps\n', 'data: {"<<": x}\n'), false],
  ['anchors and aliases reused in a list', `${POLICY_HEAD}metadata: {name: lists, namespace: kgateway}\nspec:\n  accessLog:\n  - &log {grpcService: {logName: a, backendRef: {name: otel, namespace: kgateway}}}\n  - *log\n`, false],
  ['YAML 1.1 booleans as values and keys', CM('  name: bools\n  namespace: apps\n', 'spec: {a: on, b: off, c: yes, d: no, e: y, f: N, g: True, h: FALSE, on: 1, y: 2}\n'), false],
  ['numbers in every base go-yaml reads', CM('  name: numbers\n  namespace: apps\n', 'spec: {o: 0o17, lo: 017, h: 0x1F, b: 0b101, nb: -0b101, u: 1_000, e: 1e3, p: +12, d: .5, nine: 09, f: 1.5e3, neg: -42, big: 12345678}\n'), false],
  ['text that only looks like a number, a timestamp, a time of day', CM('  name: texts\n  namespace: apps\n', 'spec: {t: 2001-12-14, tt: 2001-12-14t21:59:43.10-05:00, clock: 12:30, v: 1.2.3, x: 0x, e: 1e, dot: ._5, plus: +, ip: 10.0.0.1}\n'), false],
  ['nulls', CM('  name: nulls\n  namespace: apps\n', 'spec: {a: ~, b: null, c: Null, d: , e: NULL}\n'), false],
  ['an explicit !!str tag keeps the text', CM('  name: !!str tagged\n  namespace: apps\n  labels: {v: !!str 0o17}\n'), false],
  ['a duplicate key: the last wins', CM('  name: dup\n  namespace: apps\n  labels: {a: one, a: two}\n', 'data: {k: "1"}\ndata: {k: "2"}\n'), false],
  ['a namespace that YAML 1.1 reads as a number', CM('  name: ns-number\n  namespace: 1e3\n'), true],
  ['a name in octal', CM('  name: 0o17\n  namespace: apps\n'), true],
  ['a namespace that is a bool (n is false in YAML 1.1)', CM('  name: ns-bool\n  namespace: n\n'), true],
  ['a label value that is a bool', CM('  name: label-bool\n  namespace: apps\n  labels: {enabled: on}\n'), true],
  ['the quoted forms of them are fine', CM('  name: "0o17"\n  namespace: "1e3"\n  labels: {enabled: "on"}\n'), false],
  ['a namespace of null is no namespace (kubectl then puts it in its context\'s: default)', CM('  name: ns-null\n  namespace: ~\n'), false],
  [
    'multi-document edge cases: empty documents, a comment-only document, an explicit end',
    `---\n---\n# only a comment\n---\n${CM('  name: first\n  namespace: apps\n')}...\n---\n${CM('  name: second\n  namespace: apps\n')}---\n`,
    false,
  ],
  ['a %YAML directive, which kubectl cannot read', `%YAML 1.1\n---\n${CM('  name: directive\n  namespace: apps\n', 'data: {a: "on", b: on}\n')}`, true],
  ['a broken document between two good ones', `${CM('  name: before\n  namespace: apps\n')}---\n${CM('  name: 1e3\n  namespace: apps\n')}---\n${CM('  name: after\n  namespace: apps\n')}`, true],
  ['a List', 'apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: l1, namespace: apps}, data: {a: on}}\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: l2}}\n', false],
  ['JSON', '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "json", "namespace": "apps"}, "data": {"a": "on"}, "spec": {"n": 1e3}}\n', false],
  ['a .nan that JSON cannot hold', CM('  name: nan\n  namespace: apps\n', 'spec: {v: .nan}\n'), true],
];

let kubectl: OfflineKubectl;
let dir: string;
beforeAll(async () => {
  kubectl = await offlineKubectl();
  dir = await mkdtemp(join(tmpdir(), 'kga-differential-'));
});
afterAll(async () => {
  await kubectl?.close();
});

describe('check reads YAML as kubectl does', () => {
  it.each(CORPUS)('%s', async (name, text, refused) => {
    const file = join(dir, `${name.replace(/\W+/g, '-')}.yaml`);
    await writeFile(file, text);
    const theirs = await kubectl.run(['create', '--dry-run=client', '-o', 'json', '--validate=false', '-f', file]);
    const read = readManifestText(text, file);
    // kubectl puts a namespaced object that names no namespace in its context's, default.
    const ours = { ...read, objects: read.objects.map(({ object }) => ({ object: object.kind === 'Namespace' || object.metadata?.namespace ? object : { ...object, metadata: { ...object.metadata, namespace: 'default' } } })) };
    // kubectl prints what it read, then refuses the rest (exit 1, `error: …` on stderr).
    expect(ours.objects.map((o) => o.object), theirs.stderr).toEqual(splitJsonObjects(theirs.stdout));
    expect(theirs.code !== 0, theirs.stderr).toBe(refused);
    expect(ours.problems.length > 0, `${theirs.stderr}\n${JSON.stringify(ours.problems)}`).toBe(refused);
    for (const problem of ours.problems) expect(problem.line).toBeGreaterThan(0);
  });

  it('names the line of a non-string namespace, and says to quote it', () => {
    const read = readManifestText(CM('  name: x\n  namespace: 1e3\n'), 'ns.yaml');
    expect(read.problems).toEqual([{ file: 'ns.yaml', line: 5, unreadable: false, message: 'metadata.namespace is the number 1000, not a string, as kubectl reads YAML 1.1 (it refuses the object): quote it' }]);
  });
});

describe('check on what YAML 1.1 changes', () => {
  it('denies the cross-namespace ref a merge key brings in, as the webhook would deny what kubectl sends', async () => {
    const { code, stdout } = await runCli(['check', '-'], { input: CORPUS[0]![1] });
    expect(code).toBe(1);
    expect(stdout).toContain('DENIED   HTTPListenerPolicy kgateway/traces');
    expect(stdout).toContain('- spec.tracing.provider.openTelemetry.grpcService.backendRef: Service tracing/tempo');
  });

  it('refuses an unquoted namespace: 1e3 with its line, and suggests no grant holding a number', async () => {
    const text = `${POLICY_HEAD}metadata:\n  name: p\n  namespace: kgateway\nspec:\n  tracing:\n    provider:\n      openTelemetry:\n        grpcService:\n          backendRef: {name: tempo, namespace: 1e3}\n---\n${CM('  name: x\n  namespace: 0o17\n')}`;
    const { code, stdout } = await runCli(['check', '-'], { input: text });
    expect(code).toBe(1);
    expect(stdout).toContain('INVALID  <stdin>:17\n    metadata.namespace is the number 15, not a string');
    // The backendRef's namespace is read as 1000, as kubectl sends it: no grant is suggested for a number.
    expect(stdout).not.toMatch(/namespace: 1000\b/);
  });
});
