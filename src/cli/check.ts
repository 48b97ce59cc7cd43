import { readManifests, type ManifestRead } from '../cluster/manifests.js';
import { loadConfig, ruleSettings } from '../config/config.js';
import { OUTPUT_OPTIONS, OUTPUT_USAGE, outputFormat, writeReport } from './reportFormats/output.js';
import type { ReportSubject } from './reportFormats/report.js';
import { evaluateManifests, placeInNamespace, problemResult, type CheckResult, type EvaluatedObject } from './checkResults.js';
import { CLUSTER_OPTIONS, clusterConnection, namespaceOption } from './clusterOptions.js';
import { findingsExitStatus, WARN_EXIT_OPTIONS, WARN_EXIT_USAGE, warnExitCodeOption } from './exitStatus.js';
import { atKustomizeOrigin } from './kustomizeOrigin.js';
import { countLevels } from './reportFormats/report.js';
import type { KubeObject } from '../rules/types.js';
import type { RuleSettings } from '../rules/settings.js';
import { formatCheckText } from './checkText.js';
import { resolveProfile } from './profile.js';
import { CommandError, parseCommandArgs, profileOption, UsageError } from './usage.js';
import { packageVersion } from './version.js';

export type { CheckResult } from './checkResults.js';
export { evaluateManifests } from './checkResults.js';

export const CHECK_USAGE = `Usage: kgateway-admission check [--output FORMAT] [--output-file FILE] [--config FILE] [--profile NAME]
                              [-n NAMESPACE] [--kubeconfig FILE] [--context NAME] [--warn-exit-code N] [--quiet] PATH...

Evaluates Kubernetes manifests (YAML or JSON files and folders, multi-document)
as the webhook would on CREATE. ReferenceGrants, GatewayClasses, parameters
objects and Namespaces (their enforcement label) in the input are the cluster
state for the run. Every document is evaluated: one that cannot be read is a
failed result of its own (file, line, the error); files and documents that
hold no Kubernetes object (Chart.yaml, values.yaml, package.json, workflows,
Helm templates) are skipped and counted. An AdmissionReview's request.object
is checked in its place.
PATH - reads one YAML stream from stdin (lines are counted in that stream).
-n, --namespace NS: namespaced objects that name no namespace are in NS
(as kubectl apply -n, or Argo CD's destination.namespace), not default.
--kubeconfig FILE, --context NAME: the ReferenceGrants, GatewayClasses,
parameters objects and labelled Namespaces of that live cluster are part of
the cluster state too (as Kyverno's apply reads a cluster); the input wins.
Objects rendered by kustomize with buildMetadata: [originAnnotations] are
reported at their source file (and line, when the file is at hand).
${OUTPUT_USAGE}
--output policyreport (check only): openreports.io Reports, one per namespace.
--quiet: the text report leaves out what is plainly admitted (no warning).
${WARN_EXIT_USAGE}
--profile: kgateway-v2.1 (default, or profile: in --config), agentgateway-v2.2,
kgateway-v2.3, kgateway-v2.4 or agentgateway-v1.
--config: its validation.grantModes say which refs need a grant (the controllers' modes).
Exit status, once the report is written: 0 all admitted (warned ones too,
unless --warn-exit-code), 1 some denied or unreadable as objects, 2 bad usage
or a file that cannot be read.

Examples:
  kgateway-admission check examples/
  kgateway-admission check --output json --profile agentgateway-v2.2 manifests/prod/
  kgateway-admission check -n team-a apps/team-a/
  kgateway-admission check --quiet --warn-exit-code 3 manifests/
  kgateway-admission check --output policyreport manifests/ > report.yaml
  kgateway-admission check --kubeconfig ~/.kube/config --context prod manifests/prod/
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

/** `check --kubeconfig/--context`: the cluster state of a live cluster. */
async function liveClusterState(values: { kubeconfig?: string; context?: string }, settings: RuleSettings): Promise<KubeObject[]> {
  const connection = await clusterConnection('check', values);
  if (!connection) throw new UsageError('check: --context needs a kubeconfig');
  const [{ KubeApi }, { readClusterState }] = await Promise.all([import('../kube/kubeApi.js'), import('../cluster/clusterState.js')]);
  try {
    return await readClusterState(new KubeApi(connection.config), settings);
  } catch (error) {
    throw new CommandError(`check: cannot read the cluster state from ${connection.config.getCurrentCluster()?.server ?? connection.source}: ${(error as Error).message}`);
  }
}

export async function runCheck(args: string[], out: (text: string) => void, err: (text: string) => void = (text) => process.stderr.write(`${text}\n`)): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    'check',
    args,
    { ...OUTPUT_OPTIONS, ...CLUSTER_OPTIONS, ...WARN_EXIT_OPTIONS, quiet: { type: 'boolean', short: 'q' }, config: { type: 'string' }, profile: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    true,
  );
  if (values.help) {
    out(CHECK_USAGE);
    return 0;
  }
  // policyreport is check's own (a Report per namespace); the rest are every command's.
  const format = values.output === 'policyreport' ? 'policyreport' : outputFormat('check', values.output);
  const warnExitCode = warnExitCodeOption(values['warn-exit-code']);
  if (positionals.length === 0) throw new UsageError(`check: name at least one file or folder\n\n${CHECK_USAGE}`);
  const namespace = namespaceOption('check', values.namespace);
  const flag = profileOption(values.profile);
  const config = await loadConfig(values.config);
  const { profile } = await resolveProfile('check', flag, config);
  const read = await readManifests(positionals);
  if (read.objects.length === 0 && read.problems.length === 0 && read.skipped.length === 0) {
    throw new UsageError(`check: no Kubernetes objects found in ${positionals.join(', ')}`);
  }
  const settings = ruleSettings(config, profile);
  const clusterObjects = values.kubeconfig !== undefined || values.context !== undefined ? await liveClusterState(values, settings) : [];
  const manifests = atKustomizeOrigin(namespace ? placeInNamespace(read.objects, namespace) : read.objects);
  const evaluated = inReadOrder(read, evaluateManifests(manifests, settings, clusterObjects));
  const results = evaluated.map((e) => e.result);
  const renderings = {
    text: () => formatCheckText(results, read.skipped, values.quiet === true),
    data: () => ({ results, skipped: read.skipped }),
    report: async () => ({ command: 'check' as const, version: await packageVersion(), subjects: evaluated.map(reportSubject) }),
  };
  if (format === 'policyreport') {
    const { formatCheckPolicyReports } = await import('./reportFormats/checkPolicyReport.js');
    const policyReports = formatCheckPolicyReports(evaluated);
    // As writeReport does: the Reports to the file and the text report to stdout, or the Reports to stdout.
    await writeReport('text', values['output-file'], { ...renderings, text: () => policyReports }, values['output-file'] === undefined ? out : () => out(renderings.text()));
  } else {
    await writeReport(format, values['output-file'], renderings, out);
  }
  // The report is out; now what could not be read at all, on stderr too.
  const unreadable = read.problems.filter((p) => p.unreadable);
  for (const problem of unreadable) err(`kgateway-admission: ${problem.file}: ${problem.message}`);
  if (unreadable.length > 0) return 2;
  return findingsExitStatus(countLevels({ command: 'check', version: '', subjects: evaluated.map(reportSubject) }), warnExitCode);
}
