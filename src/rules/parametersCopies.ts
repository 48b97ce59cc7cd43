import { isDeepStrictEqual } from 'node:util';
import type { ClusterView } from './clusterView.js';
import { wantsParametersRef } from './gatewayParametersRef.js';
import type { RuleSettings } from './settings.js';
import type { KubeObject } from './types.js';

/**
 * Labels on every copy of the parameters object that the copier made
 * (mutation.copyParameters). An object without COPY_OF_LABEL was not made by
 * us and is never changed nor deleted, whatever its name.
 */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'kgateway-admission';
export const COPY_OF_LABEL = 'kgateway-admission.dev/copy-of';

/** What a copy carries of its source: the spec, whole. */
export interface ParametersSource {
  namespace: string;
  name: string;
  spec: unknown;
}

export type CopyAction =
  | { action: 'create'; namespace: string }
  | { action: 'update'; namespace: string; resourceVersion: string }
  | { action: 'delete'; namespace: string; resourceVersion: string }
  /** An object of the copy's name that we did not make: left alone (the Gateway uses it). */
  | { action: 'foreign'; namespace: string };

/** The value of COPY_OF_LABEL: `namespace.name` of the source (both are DNS labels/subdomains, so the dot is unambiguous enough for a label value). */
export function copyOfValue(source: { namespace: string; name: string }): string {
  return `${source.namespace}.${source.name}`.slice(0, 63);
}

export function isOurCopy(object: KubeObject, source: { namespace: string; name: string }): boolean {
  const labels = object.metadata?.labels ?? {};
  return labels[COPY_OF_LABEL] === copyOfValue(source) && labels[MANAGED_BY_LABEL] === MANAGED_BY_VALUE;
}

/**
 * The namespaces that need a copy: every namespace, other than the source's,
 * holding a Gateway that the mutation matches (its class is agentgateway's,
 * it is not skipped, and its parametersRef is ours or will be).
 */
export function namespacesNeedingCopies(gateways: Iterable<KubeObject>, settings: RuleSettings, view: ClusterView, sourceNamespace: string): Set<string> {
  const namespaces = new Set<string>();
  for (const gateway of gateways) {
    const namespace = gateway.metadata?.namespace;
    if (!namespace || namespace === sourceNamespace) continue;
    if (wantsParametersRef(gateway, settings, view)) namespaces.add(namespace);
  }
  return namespaces;
}

/**
 * What the copier must do so that exactly the namespaces needing a copy hold
 * one, each equal to the source. `existing` are the objects of the copy's
 * name and kind outside the source's namespace. With no source (deleted, or
 * not yet seen) nothing is created, changed or removed: removing copies would
 * break the Gateways using them, and there is nothing to copy.
 */
export function plannedCopyActions(input: {
  source: ParametersSource | undefined;
  sourceRef: { namespace: string; name: string };
  needed: ReadonlySet<string>;
  existing: Iterable<KubeObject>;
}): CopyAction[] {
  const { source, sourceRef, needed } = input;
  if (!source) return [];
  const actions: CopyAction[] = [];
  const seen = new Set<string>();
  for (const object of input.existing) {
    const namespace = object.metadata?.namespace ?? '';
    if (namespace === '' || namespace === sourceRef.namespace || object.metadata?.name !== sourceRef.name) continue;
    seen.add(namespace);
    const resourceVersion = typeof object.metadata?.resourceVersion === 'string' ? object.metadata.resourceVersion : '';
    if (!isOurCopy(object, sourceRef)) {
      if (needed.has(namespace)) actions.push({ action: 'foreign', namespace });
      continue;
    }
    if (!needed.has(namespace)) {
      // Being deleted already: nothing to do.
      if (!object.metadata?.deletionTimestamp) actions.push({ action: 'delete', namespace, resourceVersion });
      continue;
    }
    if (!isDeepStrictEqual(object.spec, source.spec)) actions.push({ action: 'update', namespace, resourceVersion });
  }
  for (const namespace of [...needed].sort()) if (!seen.has(namespace)) actions.push({ action: 'create', namespace });
  return actions;
}

/** The copy written in a namespace (for create, and as the body of an update with the old object's resourceVersion). */
export function copyObject(
  source: ParametersSource,
  kind: { apiVersion: string; kind: string },
  namespace: string,
  resourceVersion?: string,
): KubeObject {
  return {
    apiVersion: kind.apiVersion,
    kind: kind.kind,
    metadata: {
      name: source.name,
      namespace,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [COPY_OF_LABEL]: copyOfValue(source) },
      annotations: { 'kgateway-admission.dev/copied-from': `${source.namespace}/${source.name}` },
      ...(resourceVersion ? { resourceVersion } : {}),
    },
    spec: structuredClone(source.spec),
  } as KubeObject;
}
