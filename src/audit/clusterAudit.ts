import type { ClusterView } from '../rules/clusterView.js';
import type { Enforcement } from '../rules/enforcement.js';
import { describeClassParametersRef, isAgentgatewayClass, skippedForClassParameters, wantsParametersRef } from '../rules/gatewayParametersRef.js';
import { decide, type RuleSet } from '../rules/ruleSet.js';
import type { RuleSettings } from '../rules/settings.js';
import { createRequestFor } from '../rules/objectRequest.js';
import { GATEWAY_API_GROUP, type KubeObject } from '../rules/types.js';
import { isRecord } from '../rules/objectPaths.js';
import { auditProblemRule, auditProblemSeverity, type AuditProblem, type RuleId, type Severity } from '../rules/vocabulary.js';

export type Problem = AuditProblem;

export interface Finding {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  problem: Problem;
  /** For ungranted-reference: what admission does with such an object now (the labels of its namespace and its targets'). */
  enforcement?: Enforcement;
  message: string;
  /** Objects that, applied, would resolve the finding (the ReferenceGrants an object lacks); often []. */
  suggestions: KubeObject[];
  /** The rule that finds it and how grave it is, as every command and format says (rules/vocabulary.ts). */
  rule: RuleId;
  severity: Severity;
}

/**
 * What is wrong in a cluster as it stands, by the same rules as admission:
 * objects whose cross-namespace refs no grant allows (they were created
 * before the webhook, or lost their grant), agentgateway Gateways without the
 * parametersRef, and those whose parameters object is missing. A Gateway
 * without the ref whose class has its own parametersRef, under
 * `mutation.classParameters: skip`, is its own problem: the webhook leaves it
 * alone on purpose, so updating it would not help; a person must choose.
 * An ungranted ref is a finding in warn mode too (kgateway still refuses
 * it); the finding says which enforcement its namespace has.
 */
export function auditObjects(objects: Iterable<KubeObject>, ruleSet: RuleSet, settings: RuleSettings, view: ClusterView): Finding[] {
  const found: Omit<Finding, 'rule' | 'severity'>[] = [];
  const findings = { push: (finding: Omit<Finding, 'rule' | 'severity'>) => found.push(finding) };
  for (const object of objects) {
    // Read from the API server: an object with no namespace is cluster-scoped.
    const request = createRequestFor(object, 'audit', !object.metadata?.namespace);
    const base = {
      apiVersion: object.apiVersion ?? '',
      kind: object.kind ?? '',
      namespace: request.namespace ?? '',
      name: object.metadata?.name ?? '',
      suggestions: [] as KubeObject[],
    };
    const validation = decide(ruleSet.validating, request, view);
    if (!validation.allowed || validation.warned) {
      // Warn mode admits it, but kgateway still refuses the ref: a finding all
      // the same, with the message deny mode gives (the warned verdict keeps it).
      findings.push({ ...base, problem: 'ungranted-reference', enforcement: validation.allowed ? 'warn' : 'deny', message: validation.message ?? '', suggestions: validation.suggestions ?? [] });
      continue;
    }
    if (request.kind.group !== GATEWAY_API_GROUP || request.kind.kind !== 'Gateway') continue;
    const spec = isRecord(object.spec) ? object.spec : {};
    const classRef = skippedForClassParameters(object, settings, view);
    if (classRef) {
      findings.push({
        ...base,
        problem: 'class-parametersRef',
        message:
          `agentgateway Gateway without spec.infrastructure.parametersRef, left alone: its GatewayClass ${String(spec.gatewayClassName)} has parametersRef ` +
          `${describeClassParametersRef(classRef)}, which kgateway may not merge with a Gateway's (mutation.classParameters: skip); ` +
          `give it a parametersRef yourself (repeating the class's settings there), or set mutation.classParameters: add`,
      });
      continue;
    }
    const mutation = decide(ruleSet.mutating, request, view);
    if (mutation.patch.length > 0) {
      findings.push({
        ...base,
        problem: 'missing-parametersRef',
        message: `agentgateway Gateway without spec.infrastructure.parametersRef: it gets no ${settings.parametersRef.kind} ${settings.parametersRef.name} (updating it through the webhook adds the ref)`,
      });
      continue;
    }
    const ref = isRecord(spec.infrastructure) && isRecord(spec.infrastructure.parametersRef) ? spec.infrastructure.parametersRef : undefined;
    if (!ref && wantsParametersRef(object, settings, view)) {
      // The webhook leaves it without the ref: the object is not beside it, and the deployer refuses a ref to a missing object.
      const { kind, name } = settings.parametersRef;
      findings.push({
        ...base,
        problem: 'missing-parametersRef',
        message: `agentgateway Gateway without spec.infrastructure.parametersRef and no ${kind} ${base.namespace}/${name} beside it: create that, then update the Gateway through the webhook (it adds the ref)`,
      });
      continue;
    }
    if (!ref || !isAgentgatewayClass(spec.gatewayClassName, settings, view)) continue;
    const group = typeof ref.group === 'string' ? ref.group : '';
    const kind = typeof ref.kind === 'string' ? ref.kind : '';
    const name = typeof ref.name === 'string' ? ref.name : '';
    if (view.objectExists(group, kind, base.namespace, name) === false) {
      findings.push({ ...base, problem: 'missing-parameters', message: `its parametersRef names ${kind} ${base.namespace}/${name}, which does not exist` });
    }
  }
  return found.map((f) => ({ ...f, rule: auditProblemRule(f.problem), severity: auditProblemSeverity(f.problem, f.enforcement) }));
}
