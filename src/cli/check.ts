import { InMemoryClusterView } from '../cluster/inMemoryClusterView.js';
import { loadManifests, type ManifestObject } from '../cluster/manifests.js';
import { loadConfig, ruleSettings } from '../config/config.js';
import { viewOptionsFor } from '../cluster/inMemoryClusterView.js';
import type { RuleSettings } from '../rules/settings.js';
import { buildRuleSet, decide } from '../rules/ruleSet.js';
import { createRequestFor, customResourceDefinitionScopes, isClusterScoped } from '../rules/objectRequest.js';
import type { JsonPatchOperation, KubeObject } from '../rules/types.js';
import { combine } from '../rules/verdicts.js';
import { OUTPUT_OPTIONS, OUTPUT_USAGE, outputFormat, writeReport } from './reportFormats/output.js';
import { qualifiedName, type ReportFinding } from './reportFormats/report.js';
import { ruleFindings } from './reportFormats/ruleFindings.js';
import { resolveProfile } from './profile.js';
import { parseCommandArgs, profileOption, UsageError } from './usage.js';
import { packageVersion } from './version.js';

export interface CheckResult {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  /** Where the object's document starts (`<stdin>` for `-`). */
  file: string;
  line: number;
  allowed: boolean;
  /** Admitted only because enforcement is warn for its refs' namespaces; with deny it would be denied (`message` and `suggestions` say what deny would). */
  warned: boolean;
  message: string;
  patch: JsonPatchOperation[];
  warnings: string[];
  /** Objects that, applied, would get a denied or warned object admitted (the ReferenceGrants it lacks); [] when allowed. */
  suggestions: KubeObject[];
}

export const CHECK_USAGE = `Usage: kgateway-admission check [--output FORMAT] [--output-file FILE] [--config FILE] [--profile NAME] PATH...

Evaluates Kubernetes manifests (YAML or JSON files and folders, multi-document)
as the webhook would on CREATE. ReferenceGrants, GatewayClasses, parameters
objects and Namespaces (their enforcement label) in the input are the cluster
state for the run.
PATH - reads one YAML stream from stdin (lines are counted in that stream).
${OUTPUT_USAGE}
--profile: kgateway-v2.1 (default, or profile: in --config), agentgateway-v2.2,
kgateway-v2.3, kgateway-v2.4 or agentgateway-v1.
--config: its validation.grantModes say which refs need a grant (the controllers' modes).
Exit status: 0 all admitted (warned ones too), 1 some denied, 2 bad usage or
unreadable input.

Examples:
  kgateway-admission check examples/
  kgateway-admission check --output json --profile agentgateway-v2.2 manifests/prod/
  kustomize build overlays/prod | kgateway-admission check --output github -
  kgateway-admission check --output sarif --output-file check.sarif manifests/`;

/** `findings`, when given, gets each object's findings by rule, in the order of the results. */
export function evaluateManifests(manifests: readonly ManifestObject[], settings: RuleSettings, findings?: ReportFinding[][]): CheckResult[] {
  const ruleSet = buildRuleSet(settings);
  const view = InMemoryClusterView.fromObjects(
    manifests.map((m) => m.object),
    viewOptionsFor(settings),
  );
  const crdScopes = customResourceDefinitionScopes(manifests.map((m) => m.object));
  return manifests.map(({ object, file, line }, index) => {
    const request = createRequestFor(object, `check-${index}`, isClusterScoped(object.apiVersion ?? '', object.kind ?? '', crdScopes));
    const verdict = combine([decide(ruleSet.mutating, request, view), decide(ruleSet.validating, request, view)]);
    findings?.push(ruleFindings([...ruleSet.mutating, ...ruleSet.validating], request, view));
    return {
      apiVersion: object.apiVersion ?? '',
      kind: object.kind ?? '',
      namespace: request.namespace ?? '',
      name: object.metadata?.name ?? object.metadata?.generateName ?? '',
      file,
      line,
      allowed: verdict.allowed,
      warned: verdict.warned === true,
      message: verdict.message ?? '',
      patch: verdict.patch,
      warnings: verdict.warnings,
      suggestions: verdict.suggestions ?? [],
    };
  });
}

function indent(text: string, prefix: string): string {
  return text
    .split('\n')
    .map((line) => (line === '' ? line : prefix + line))
    .join('\n');
}

export function formatText(results: readonly CheckResult[], manifests: readonly ManifestObject[]): string {
  const lines: string[] = [];
  let denied = 0;
  let patched = 0;
  let warned = 0;
  results.forEach((result, i) => {
    const where = manifests[i] ? ` (${manifests[i].file}:${manifests[i].line})` : '';
    const what = `${result.kind} ${qualifiedName(result)}`;
    if (!result.allowed) {
      denied++;
      lines.push(`DENIED   ${what}${where}`, indent(result.message, '    '));
    } else if (result.warned) {
      warned++;
      lines.push(`WARNED   ${what}${where}`);
      for (const op of result.patch) lines.push(`    ${op.op} ${op.path} ${JSON.stringify(op.value)}`);
    } else if (result.patch.length > 0) {
      patched++;
      lines.push(`PATCHED  ${what}${where}`);
      for (const op of result.patch) lines.push(`    ${op.op} ${op.path} ${JSON.stringify(op.value)}`);
    } else {
      lines.push(`ALLOWED  ${what}${where}`);
    }
    for (const warning of result.warnings) lines.push(`    warning: ${warning}`);
  });
  const warnedCount = warned > 0 ? `, ${warned} warned` : '';
  lines.push(`${results.length} objects: ${results.length - denied - patched - warned} allowed, ${patched} patched${warnedCount}, ${denied} denied`);
  return lines.join('\n');
}

export async function runCheck(args: string[], out: (text: string) => void): Promise<number> {
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
  const manifests = await loadManifests(positionals);
  if (manifests.length === 0) throw new UsageError(`check: no Kubernetes objects found in ${positionals.join(', ')}`);
  const flag = profileOption(values.profile);
  const config = await loadConfig(values.config);
  const { profile } = await resolveProfile('check', flag, config);
  const findings: ReportFinding[][] = [];
  const results = evaluateManifests(manifests, ruleSettings(config, profile), findings);
  await writeReport(format, values['output-file'], {
    text: () => formatText(results, manifests),
    data: () => ({ results }),
    report: async () => ({ command: 'check', version: await packageVersion(), subjects: results.map((result, i) => ({ ...result, findings: findings[i] ?? [] })) }),
  }, out);
  return results.every((r) => r.allowed) ? 0 : 1;
}
