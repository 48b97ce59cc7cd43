import type { ClusterView } from './clusterView.js';
import { namespaceOf } from './objectRequest.js';
import type { AdmissionRequest, Operation, Verdict } from './types.js';

/**
 * One named decision. `operations` says which operations it handles (as
 * cert-manager's admission plugins declare `Handles(op)`), `handles` which
 * requests of those it looks at (by group and kind); the rule set dispatches
 * on both (`appliesTo`), so `decide` never sees another operation. `decide`
 * is pure: the same request and view always give the same verdict.
 */
export interface Rule {
  readonly name: string;
  readonly operations: readonly Operation[];
  handles(request: AdmissionRequest): boolean;
  decide(request: AdmissionRequest, view: ClusterView): Verdict;
}

/** Whether `rule` decides on `request`: its operation first, then the rule's own test. */
export function appliesTo(rule: Rule, request: AdmissionRequest): boolean {
  return rule.operations.includes(request.operation) && rule.handles(request);
}

/** The object's own namespace, falling back to the request's, then `default`. */
export function objectNamespace(request: AdmissionRequest): string {
  return namespaceOf(request.object, request.namespace);
}

/** The object's name for messages; `generateName` objects show their prefix. */
export function objectName(request: AdmissionRequest): string {
  const meta = request.object?.metadata;
  if (meta?.name) return meta.name;
  if (meta?.generateName) return `${meta.generateName}*`;
  return request.name || '<unnamed>';
}
