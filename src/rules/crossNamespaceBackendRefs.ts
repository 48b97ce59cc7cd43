import type { ClusterView, ReferenceFrom, ReferenceTo } from './clusterView.js';
import { compilePath, valuesAt, type CompiledPath } from './objectPaths.js';
import { referenceGrantYaml } from './referenceGrantSuggestion.js';
import { objectName, objectNamespace, type Rule } from './rule.js';
import type { BackendRefKind } from './settings.js';
import type { AdmissionRequest, Verdict } from './types.js';
import { allowed, denied } from './verdicts.js';

export interface BackendRef {
  location: string;
  target: ReferenceTo;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringOr(value: unknown, fallback: string): string {
  return typeof value === 'string' && value !== '' ? value : fallback;
}

/**
 * Every backendRef at the given paths, with Gateway API BackendObjectReference
 * defaults applied: group "" (core), kind Service, namespace the referrer's.
 */
export function backendRefsOf(object: unknown, paths: readonly CompiledPath[], ownNamespace: string): BackendRef[] {
  const refs: BackendRef[] = [];
  for (const path of paths) {
    for (const { value, location } of valuesAt(object, path)) {
      if (!isRecord(value)) continue;
      refs.push({
        location,
        target: {
          group: typeof value.group === 'string' ? value.group : '',
          kind: stringOr(value.kind, 'Service'),
          namespace: stringOr(value.namespace, ownNamespace),
          name: typeof value.name === 'string' ? value.name : '',
        },
      });
    }
  }
  return refs;
}

/** The backendRefs of `from` that cross into another namespace with no grant. */
export function ungrantedBackendRefs(refs: readonly BackendRef[], from: ReferenceFrom, view: ClusterView): BackendRef[] {
  return refs.filter((ref) => ref.target.namespace !== from.namespace && !view.isReferenceGranted(from, ref.target));
}

function describeTarget(target: ReferenceTo): string {
  const kind = target.group === '' ? target.kind : `${target.kind}.${target.group}`;
  return `${kind} ${target.namespace}/${target.name}`;
}

export function deniedForMissingGrant(from: ReferenceFrom, name: string, missing: readonly BackendRef[]): Verdict {
  const lines = [
    `${from.kind} ${from.namespace}/${name} refers to objects in other namespaces that no ReferenceGrant allows:`,
    ...missing.map((ref) => `- ${ref.location}: ${describeTarget(ref.target)}`),
  ];
  const byNamespace = new Map<string, ReferenceTo[]>();
  for (const ref of missing) {
    const list = byNamespace.get(ref.target.namespace) ?? [];
    list.push(ref.target);
    byNamespace.set(ref.target.namespace, list);
  }
  const namespaces = [...byNamespace.keys()].sort();
  lines.push(
    namespaces.length === 1
      ? `Create this ReferenceGrant in namespace ${namespaces[0]} to allow it:`
      : `Create these ReferenceGrants, one in each target namespace (${namespaces.join(', ')}), to allow them:`,
  );
  const documents = namespaces.map((ns) => referenceGrantYaml(from, byNamespace.get(ns)!).trimEnd());
  lines.push(documents.join('\n---\n'));
  return { ...denied(lines.join('\n')), recheckReferenceGrantsIn: namespaces };
}

/**
 * Rejects an object whose backendRefs point into another namespace unless a
 * ReferenceGrant there allows it (Gateway API GEP-709), naming the grant to
 * create. kgateway itself only reports this later, as a status condition.
 */
export function crossNamespaceBackendRefRule(kinds: readonly BackendRefKind[]): Rule {
  const compiled = new Map<string, CompiledPath[]>();
  for (const row of kinds) {
    const key = `${row.group}/${row.kind}`;
    compiled.set(key, [...(compiled.get(key) ?? []), ...row.paths.map(compilePath)]);
  }
  return {
    name: 'cross-namespace-backend-refs',
    operations: ['CREATE', 'UPDATE'],
    handles(request) {
      return (
        (request.operation === 'CREATE' || request.operation === 'UPDATE') &&
        compiled.has(`${request.kind.group}/${request.kind.kind}`)
      );
    },
    decide(request: AdmissionRequest, view: ClusterView): Verdict {
      const object = request.object;
      // An object already being deleted only sheds finalizers; blocking that
      // would leave it stuck in Terminating.
      if (!object || object.metadata?.deletionTimestamp) return allowed();
      const paths = compiled.get(`${request.kind.group}/${request.kind.kind}`) ?? [];
      const from: ReferenceFrom = {
        group: request.kind.group,
        kind: request.kind.kind,
        namespace: objectNamespace(request),
      };
      const missing = ungrantedBackendRefs(backendRefsOf(object, paths, from.namespace), from, view);
      return missing.length === 0 ? allowed() : deniedForMissingGrant(from, objectName(request), missing);
    },
  };
}
