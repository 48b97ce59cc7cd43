import { readClusterSnapshot, type ClusterSnapshot } from '../cluster/clusterSnapshot.js';
import { KubeApi } from '../kube/kubeApi.js';
import { detectProfile } from '../kube/kubeConnection.js';
import { CLUSTER_OPTIONS, clusterConnection, namespaceOption } from './clusterOptions.js';
import { findingsExitStatus, WARN_EXIT_OPTIONS, WARN_EXIT_USAGE, warnExitCodeOption } from './exitStatus.js';
import { loadConfig, ruleSettings } from '../config/config.js';
import { auditObjects, type Finding } from '../audit/clusterAudit.js';
import { buildRuleSet } from '../rules/ruleSet.js';
import type { RuleSettings } from '../rules/settings.js';
import { auditSubjects } from './reportFormats/auditSubjects.js';
import { qualifiedName } from './reportFormats/report.js';
import { count } from './checkText.js';
import { OUTPUT_OPTIONS, OUTPUT_USAGE, outputFormat, writeReport } from './reportFormats/output.js';
import { resolveProfile } from './profile.js';
import { CommandError, parseCommandArgs, profileOption, UsageError } from './usage.js';
import { packageVersion } from './version.js';

export const AUDIT_USAGE = `Usage: kgateway-admission audit [--kubeconfig FILE] [--context NAME] [-n NAMESPACE] [--output FORMAT|html] [--output-file FILE]
                              [--config FILE] [--profile NAME] [--warn-exit-code N]

Lists, for a live cluster, every object whose cross-namespace backendRefs no
ReferenceGrant allows (in warn-mode namespaces too: marked so), and every
agentgateway Gateway without its parametersRef or whose parameters object is
missing. The cluster is found as kubectl finds it: --kubeconfig, else
$KUBECONFIG (several files merged), else ~/.kube/config, else in-cluster;
--context NAME instead of the current context. -n, --namespace NAMESPACE: only the
objects in it are audited (the grants of every namespace still count). --profile: unset (and no profile: in --config),
the cluster's CRDs decide (README: Support matrix). --config: its
validation.grantModes say which refs need a grant.
${OUTPUT_USAGE}
--output html (audit only): one self-contained page, the findings by namespace
and rule, each with its fix; with --output-file FILE it goes there.
Each finding is an error (admission would deny it, or the webhook never saw
the object) or a warning (admitted in warn mode, a missing parameters object,
a Gateway left alone for its class's parametersRef), as check says.
${WARN_EXIT_USAGE}
Exit status: 0 clean or warnings only, 1 errors, 2 could not audit.

Examples:
  kgateway-admission audit
  kgateway-admission audit --kubeconfig ~/.kube/config --output json
  kgateway-admission audit --context prod -n team-a
  kgateway-admission audit --output junit --output-file audit.xml
  kgateway-admission audit --output html --output-file audit.html`;

/** One line on stderr, rewritten in place, only when a person is watching. */
function progressReporter(): { update(text: string): void; done(): void } {
  if (!process.stderr.isTTY) return { update: () => {}, done: () => {} };
  return {
    update: (text) => process.stderr.write(`\r\x1b[2K${text}`),
    done: () => process.stderr.write('\r\x1b[2K'),
  };
}

export function formatFindings(findings: readonly Finding[], scanned: number): string {
  const lines: string[] = [];
  for (const f of findings) {
    lines.push(`${f.problem.padEnd(22)} ${f.kind} ${qualifiedName(f)}${f.enforcement === 'warn' ? '  (admitted: enforcement warn)' : ''}  [${f.severity}: ${f.rule}]`);
    for (const line of f.message.split('\n')) lines.push(`    ${line}`);
  }
  const errors = findings.filter((f) => f.severity === 'error').length;
  lines.push(`${count(scanned, 'object')} audited: ${findings.length === 0 ? 'no findings' : `${count(findings.length, 'finding')} (${count(errors, 'error')}, ${count(findings.length - errors, 'warning')})`}`);
  return lines.join('\n');
}

export async function runAudit(args: string[], out: (text: string) => void): Promise<number> {
  const { values } = parseCommandArgs(
    'audit',
    args,
    {
      ...CLUSTER_OPTIONS,
      ...OUTPUT_OPTIONS,
      ...WARN_EXIT_OPTIONS,
      config: { type: 'string' },
      profile: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    false,
  );
  if (values.help) {
    out(AUDIT_USAGE);
    return 0;
  }
  // html is audit's own (findings by namespace and rule); the rest are every command's.
  const format = values.output === 'html' ? 'html' : outputFormat('audit', values.output);
  const config = await loadConfig(values.config);
  const namespace = namespaceOption('audit', values.namespace);
  const warnExitCode = warnExitCodeOption(values['warn-exit-code']);
  const kubeConfig = (await clusterConnection('audit', values))?.config;
  if (!kubeConfig) throw new UsageError('audit: no cluster: give --kubeconfig FILE, set KUBECONFIG, create ~/.kube/config, or run in a cluster');
  const api = new KubeApi(kubeConfig);
  const { profile } = await resolveProfile('audit', profileOption(values.profile), config, () => detectProfile(api, 10_000));
  const settings = ruleSettings(config, profile);
  const snapshot = await readCluster(api, settings);
  const { view } = snapshot;
  // -n: the objects of one namespace, judged against the grants of them all.
  const objects = namespace ? snapshot.objects.filter((o) => o.metadata?.namespace === namespace) : snapshot.objects;
  const findings = auditObjects(objects, buildRuleSet(settings), settings, view);
  const text = () => formatFindings(findings, objects.length);
  if (format === 'html') {
    const { writeHtmlReport } = await import('./reportFormats/auditHtmlOutput.js');
    const input = { profile, scanned: objects.length, findings, generatedAt: new Date(), cluster: kubeConfig.getCurrentCluster()?.server };
    await writeHtmlReport(input, values['output-file'], out, text);
  } else {
    await writeReport(format, values['output-file'], {
      text,
      data: () => ({ profile, scanned: objects.length, findings }),
      report: async () => ({ command: 'audit', version: await packageVersion(), subjects: auditSubjects(objects, findings) }),
    }, out);
  }
  const errors = findings.filter((f) => f.severity === 'error').length;
  return findingsExitStatus({ error: errors, warning: findings.length - errors }, warnExitCode);
}

/** The cluster as an audit reads it, with progress on a terminal. */
async function readCluster(api: KubeApi, settings: RuleSettings): Promise<ClusterSnapshot> {
  const progress = progressReporter();
  try {
    return await readClusterSnapshot(api, settings, progress.update);
  } catch (error) {
    throw new CommandError(`audit: cannot read the cluster: ${(error as Error).message}`);
  } finally {
    progress.done();
  }
}
