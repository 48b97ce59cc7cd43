import { readManifests, type ManifestRead } from '../cluster/manifests.js';
import { loadConfig, ruleSettings } from '../config/config.js';
import { OUTPUT_OPTIONS, OUTPUT_USAGE, outputFormat, writeReport } from './reportFormats/output.js';
import type { ReportSubject } from './reportFormats/report.js';
import { evaluateManifests, problemResult, type CheckResult, type EvaluatedObject } from './checkResults.js';
import { formatCheckText } from './checkText.js';
import { resolveProfile } from './profile.js';
import { parseCommandArgs, profileOption, UsageError } from './usage.js';
import { packageVersion } from './version.js';

export type { CheckResult } from './checkResults.js';
export { evaluateManifests } from './checkResults.js';

export const CHECK_USAGE = `Usage: kgateway-admission check [--output FORMAT] [--output-file FILE] [--config FILE] [--profile NAME] PATH...

Evaluates Kubernetes manifests (YAML or JSON files and folders, multi-document)
as the webhook would on CREATE. ReferenceGrants, GatewayClasses, parameters
objects and Namespaces (their enforcement label) in the input are the cluster
state for the run. Every document is evaluated: one that cannot be read is a
failed result of its own (file, line, the error); files and documents that
hold no Kubernetes object (Chart.yaml, values.yaml, package.json, workflows,
Helm templates) are skipped and counted. An AdmissionReview's request.object
is checked in its place.
PATH - reads one YAML stream from stdin (lines are counted in that stream).
${OUTPUT_USAGE}
--profile: kgateway-v2.1 (default, or profile: in --config) or agentgateway-v2.2.
Exit status, once the report is written: 0 all admitted (warned ones too),
1 some denied or unreadable as objects, 2 bad usage or a file that cannot be read.

Examples:
  kgateway-admission check examples/
  kgateway-admission check --output json --profile agentgateway-v2.2 manifests/prod/
  kustomize build overlays/prod | kgateway-admission check --output github -
  kgateway-admission check --output sarif --output-file check.sarif manifests/`;

/** Objects and problems in the order they were read: file by file, line by line. */
function inReadOrder(read: ManifestRead, evaluated: EvaluatedObject[]): EvaluatedObject[] {
  const fileOrder = new Map<string, number>();
  for (const file of read.files) if (!fileOrder.has(file)) fileOrder.set(file, fileOrder.size);
  const all = [...evaluated, ...read.problems.map(problemResult)];
  const position = (r: CheckResult) => [fileOrder.get(r.file) ?? fileOrder.size, r.line] as const;
  // Array.prototype.sort is stable: objects of one document keep their order.
  return all.sort((a, b) => {
    const [fa, la] = position(a.result);
    const [fb, lb] = position(b.result);
    return fa - fb || la - lb;
  });
}

function reportSubject({ result, findings }: EvaluatedObject): ReportSubject {
  return {
    apiVersion: result.apiVersion,
    kind: result.kind,
    namespace: result.namespace,
    name: result.name,
    file: result.file,
    ...(result.line > 0 ? { line: result.line } : {}),
    findings,
  };
}

export async function runCheck(args: string[], out: (text: string) => void, err: (text: string) => void = (text) => process.stderr.write(`${text}\n`)): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    'check',
    args,
    { ...OUTPUT_OPTIONS, config: { type: 'string' }, profile: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    true,
  );
  if (values.help) {
    out(CHECK_USAGE);
    return 0;
  }
  const format = outputFormat('check', values.output);
  if (positionals.length === 0) throw new UsageError(`check: name at least one file or folder\n\n${CHECK_USAGE}`);
  const flag = profileOption(values.profile);
  const config = await loadConfig(values.config);
  const { profile } = await resolveProfile('check', flag, config);
  const read = await readManifests(positionals);
  if (read.objects.length === 0 && read.problems.length === 0 && read.skipped.length === 0) {
    throw new UsageError(`check: no Kubernetes objects found in ${positionals.join(', ')}`);
  }
  const evaluated = inReadOrder(read, evaluateManifests(read.objects, ruleSettings(config, profile)));
  const results = evaluated.map((e) => e.result);
  await writeReport(format, values['output-file'], {
    text: () => formatCheckText(results, read.skipped),
    data: () => ({ results, skipped: read.skipped }),
    report: async () => ({ command: 'check', version: await packageVersion(), subjects: evaluated.map(reportSubject) }),
  }, out);
  // The report is out; now what could not be read at all, on stderr too.
  const unreadable = read.problems.filter((p) => p.unreadable);
  for (const problem of unreadable) err(`kgateway-admission: ${problem.file}: ${problem.message}`);
  if (unreadable.length > 0) return 2;
  return results.every((r) => r.allowed) ? 0 : 1;
}
