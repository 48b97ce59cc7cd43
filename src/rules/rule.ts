import type { ClusterView } from './clusterView.js';
import { namespaceOf } from './objectRequest.js';
import type { AdmissionRequest, Operation, Verdict } from './types.js';

/**
 * One named decision. `handles` says which requests it looks at (by group, kind
 * and operation, as cert-manager's plugins declare `Handles(op)`); `decide` is
 * pure: the same request and view always give the same verdict.
 */
export interface Rule {
  readonly name: string;
  readonly operations: readonly Operation[];
  handles(request: AdmissionRequest): boolean;
  decide(request: AdmissionRequest, view: ClusterView): Verdict;
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
