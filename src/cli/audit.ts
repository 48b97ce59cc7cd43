import { KubeApi, NAMESPACES, collectionPath } from '../cluster/kubeApi.js';
import { detectProfile } from '../cluster/kubeConnection.js';
import { CLUSTER_OPTIONS, clusterConnection, namespaceOption } from './clusterOptions.js';
import { findingsExitStatus, WARN_EXIT_OPTIONS, WARN_EXIT_USAGE, warnExitCodeOption } from './exitStatus.js';
import { InMemoryClusterView } from '../cluster/inMemoryClusterView.js';
import { loadConfig, ruleSettings } from '../config/config.js';
import { viewOptionsFor } from '../cluster/inMemoryClusterView.js';
import { auditObjects, type Finding } from '../audit/clusterAudit.js';
import { ENFORCEMENT_LABEL } from '../rules/enforcement.js';
import { buildRuleSet } from '../rules/ruleSet.js';
import { GATEWAY_API_GROUP, type KubeObject } from '../rules/types.js';
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
the cluster's CRDs decide (agentgateway-v2.2 when it serves AgentgatewayParameters).
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

  const kinds = [
    { group: GATEWAY_API_GROUP, kind: 'ReferenceGrant' },
    { group: GATEWAY_API_GROUP, kind: 'GatewayClass' },
    { group: GATEWAY_API_GROUP, kind: 'Gateway' },
    { group: settings.parametersRef.group, kind: settings.parametersRef.kind },
    ...settings.backendRefKinds,
    ...settings.scanKinds,
  ];
  const progress = progressReporter();
  const objects: KubeObject[] = [];
  const seen = new Set<string>();
  let namespaces: KubeObject[] = [];
  try {
    progress.update('listing labelled namespaces…');
    // Their metadata only, and only those with the label, as serve watches them.
    namespaces = (await api.listAll(collectionPath(NAMESPACES, 'v1'), undefined, { labelSelector: ENFORCEMENT_LABEL, metadataOnly: true })).items as KubeObject[];
    for (const { group, kind } of kinds) {
      if (seen.has(`${group}/${kind}`)) continue;
      seen.add(`${group}/${kind}`);
      progress.update(`discovering ${kind}…`);
      const resource = await api.discover(group, kind);
      if (!resource) continue;
      const version = resource.versions.includes('v1') ? 'v1' : resource.versions[0]!;
      const list = await api.listAll(collectionPath(resource, version), (n) => progress.update(`listing ${resource.plural}: ${n}`));
      const apiVersion = group ? `${group}/${version}` : version;
      for (const item of list.items as KubeObject[]) objects.push({ ...item, apiVersion, kind });
    }
  } catch (error) {
    throw new CommandError(`audit: cannot read the cluster: ${(error as Error).message}`);
  } finally {
    progress.done();
  }
  const view = InMemoryClusterView.fromObjects(objects, viewOptionsFor(settings));
  for (const namespace of namespaces) view.upsertNamespace(namespace);
  // -n: the objects of one namespace, judged against the grants of them all.
  if (namespace) objects.splice(0, objects.length, ...objects.filter((o) => o.metadata?.namespace === namespace));
  const findings = auditObjects(objects, buildRuleSet(settings), settings, view);
  if (format === 'html') {
    const { writeHtmlReport } = await import('./reportFormats/auditHtmlOutput.js');
    const input = { profile, scanned: objects.length, findings, generatedAt: new Date(), cluster: kubeConfig.getCurrentCluster()?.server };
    await writeHtmlReport(input, values['output-file'], out, () => formatFindings(findings, objects.length));
  } else {
    await writeReport(format, values['output-file'], {
      text: () => formatFindings(findings, objects.length),
      data: () => ({ profile, scanned: objects.length, findings }),
      report: async () => ({ command: 'audit', version: await packageVersion(), subjects: auditSubjects(objects, findings) }),
    }, out);
  }
  const errors = findings.filter((f) => f.severity === 'error').length;
  return findingsExitStatus({ error: errors, warning: findings.length - errors }, warnExitCode);
}
