import { InMemoryClusterView, viewOptionsFor } from '../cluster/inMemoryClusterView.js';
import type { ManifestObject, ManifestProblem } from '../cluster/manifests.js';
import type { ClusterView } from '../rules/clusterView.js';
import type { RuleSettings } from '../rules/settings.js';
import { buildRuleSet, decide } from '../rules/ruleSet.js';
import { createRequestFor, customResourceDefinitionScopes, isClusterScoped } from '../rules/objectRequest.js';
import type { JsonPatchOperation, KubeObject } from '../rules/types.js';
import { combine } from '../rules/verdicts.js';
import { RULE_IDS } from '../rules/vocabulary.js';
import type { ReportFinding } from './reportFormats/report.js';
import { ruleFindings } from './reportFormats/ruleFindings.js';

/** Why an input document is a result without an object: `invalid-manifest` (it cannot be read as one), `unreadable-file`. */
export type InputProblem = typeof RULE_IDS.invalidManifest | typeof RULE_IDS.unreadableFile;

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
  /** Set on a document that could not be read as an object: it is a failed result of its own. */
  problem?: InputProblem;
  /** Where in its document the object was (an AdmissionReview's `request.object`). */
  via?: string;
}

export interface EvaluatedObject {
  result: CheckResult;
  /** Each rule's findings on it, for the neutral report. */
  findings: ReportFinding[];
  /** The rules that look at this object (for the policyreport's pass results). */
  rules: string[];
}

/**
 * `check -n NS`: namespaced objects that name no namespace go to NS, as
 * `kubectl apply -n NS` or Argo CD's destination.namespace put them;
 * cluster-scoped ones and those with a namespace stay as they are.
 */
export function placeInNamespace(manifests: readonly ManifestObject[], namespace: string): ManifestObject[] {
  const crdScopes = customResourceDefinitionScopes(manifests.map((m) => m.object));
  return manifests.map((manifest) => {
    const { object } = manifest;
    if (object.metadata?.namespace || isClusterScoped(object.apiVersion ?? '', object.kind ?? '', crdScopes)) return manifest;
    return { ...manifest, object: { ...object, metadata: { ...object.metadata, namespace } } };
  });
}

/**
 * Every object as the webhook would decide it on CREATE, against the
 * cluster state the objects themselves hold, over `clusterObjects` (what a
 * live cluster holds, for `check --kubeconfig`): the input wins where both
 * have an object.
 */
export function evaluateManifests(manifests: readonly ManifestObject[], settings: RuleSettings, clusterObjects: readonly KubeObject[] = []): EvaluatedObject[] {
  const ruleSet = buildRuleSet(settings);
  const clusterView: ClusterView = InMemoryClusterView.fromObjects([...clusterObjects, ...manifests.map((m) => m.object)], viewOptionsFor(settings));
  const crdScopes = customResourceDefinitionScopes(manifests.map((m) => m.object));
  return manifests.map(({ object, file, line, via }, index) => {
    const request = createRequestFor(object, `check-${index}`, isClusterScoped(object.apiVersion ?? '', object.kind ?? '', crdScopes));
    const verdict = combine([decide(ruleSet.mutating, request, clusterView), decide(ruleSet.validating, request, clusterView)]);
    return {
      result: {
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
        ...(via ? { via } : {}),
      },
      findings: ruleFindings([...ruleSet.mutating, ...ruleSet.validating], request, clusterView),
      rules: [...ruleSet.mutating, ...ruleSet.validating].filter((rule) => rule.handles(request)).map((rule) => rule.name),
    };
  });
}

/** A document or file that could not be read: a failed result, found by no rule but by the reading. */
export function problemResult(problem: ManifestProblem): EvaluatedObject {
  const id: InputProblem = problem.unreadable ? RULE_IDS.unreadableFile : RULE_IDS.invalidManifest;
  return {
    result: {
      apiVersion: '',
      kind: '',
      namespace: '',
      name: '',
      file: problem.file,
      line: problem.line ?? 0,
      allowed: false,
      warned: false,
      message: problem.message,
      patch: [],
      warnings: [],
      suggestions: [],
      problem: id,
    },
    findings: [{ rule: id, level: 'error', message: problem.message }],
    rules: [],
  };
}
