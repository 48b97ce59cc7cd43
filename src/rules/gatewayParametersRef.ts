import type { ClusterView, GatewayClassParametersRef } from './clusterView.js';
import type { Rule } from './rule.js';
import type { RuleSettings } from './settings.js';
import { GATEWAY_API_GROUP, type AdmissionRequest, type JsonPatchOperation, type KubeObject, type Verdict } from './types.js';
import { allowed, patched, withWarnings } from './verdicts.js';
import { isRecord } from './objectPaths.js';
import { namespaceOf } from './objectRequest.js';

export const SKIP_ANNOTATION = 'kgateway-admission.dev/skip';

/**
 * A Gateway is ours when its class is named in the settings, or when the
 * GatewayClass it names is run by one of the configured controllers (so classes
 * that users name themselves still count).
 */
export function isAgentgatewayClass(className: unknown, settings: RuleSettings, view: ClusterView): boolean {
  if (typeof className !== 'string' || className === '') return false;
  if (settings.gatewayClassNames.includes(className)) return true;
  const controller = view.gatewayClassController(className);
  return controller !== undefined && settings.gatewayControllerNames.includes(controller);
}

/**
 * The JSON Patch that points a Gateway at the OTEL parameters, or [] when it
 * needs none. `spec.infrastructure` is added whole only when absent, so its
 * labels and annotations are never touched; an explicit parametersRef is
 * never overwritten.
 */
export function parametersRefPatch(spec: unknown, settings: RuleSettings): JsonPatchOperation[] {
  if (!isRecord(spec)) return [];
  const parametersRef = { ...settings.parametersRef };
  const infrastructure = spec.infrastructure;
  if (!isRecord(infrastructure)) {
    return [{ op: 'add', path: '/spec/infrastructure', value: { parametersRef } }];
  }
  if (infrastructure.parametersRef !== undefined && infrastructure.parametersRef !== null) return [];
  return [{ op: 'add', path: '/spec/infrastructure/parametersRef', value: parametersRef }];
}

/** How a class's parametersRef reads in a warning: `Kind namespace/name`, or `Kind name` when it names no namespace. */
export function describeClassParametersRef(ref: GatewayClassParametersRef): string {
  return `${ref.kind || '(no kind)'} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name || '(no name)'}`;
}

/**
 * The warning for a Gateway whose GatewayClass has its own parametersRef.
 * Kept under the API server's 120 characters for usual names (KEP-1693); the
 * class and its ref come whole, as they are what the reader must look at.
 */
export function classParametersWarning(mode: 'add' | 'skip', className: string, ref: GatewayClassParametersRef): string {
  const classRef = `GatewayClass ${className}'s ${describeClassParametersRef(ref)}`;
  return mode === 'skip' ? `parametersRef not added, could replace ${classRef}` : `parametersRef added; it and ${classRef} both apply`;
}

/**
 * The class's parametersRef when our ref would be added to a Gateway whose
 * class has one and the settings say to leave such Gateways alone; undefined
 * otherwise. `audit` asks this to tell such a Gateway from one the webhook
 * would fix.
 */
export function skippedForClassParameters(gateway: KubeObject, settings: RuleSettings, view: ClusterView): GatewayClassParametersRef | undefined {
  if (settings.classParameters !== 'skip' || patchWanted(gateway, settings, view).length === 0) return undefined;
  return view.gatewayClassParametersRef((gateway.spec as { gatewayClassName: string }).gatewayClassName);
}

/**
 * Whether the mutation matches a Gateway and it uses (or, once patched, will
 * use) our parameters object: an agentgateway Gateway, not skipped, whose
 * parametersRef is absent (and the class's parameters do not keep it so) or
 * names our kind and name. The namespaces of such Gateways are the ones that
 * need a copy of the parameters object (mutation.copyParameters).
 */
export function wantsParametersRef(gateway: KubeObject, settings: RuleSettings, view: ClusterView): boolean {
  if (gateway.metadata?.deletionTimestamp) return false;
  if (gateway.metadata?.annotations?.[SKIP_ANNOTATION] === 'true') return false;
  const spec = gateway.spec;
  if (!isRecord(spec) || !isAgentgatewayClass(spec.gatewayClassName, settings, view)) return false;
  const ref = isRecord(spec.infrastructure) ? spec.infrastructure.parametersRef : undefined;
  if (ref === undefined || ref === null) {
    return !(settings.classParameters === 'skip' && view.gatewayClassParametersRef(spec.gatewayClassName as string));
  }
  const { group, kind, name } = settings.parametersRef;
  return isRecord(ref) && ref.group === group && ref.kind === kind && ref.name === name;
}

/**
 * The warning for a Gateway left without our parametersRef because the object
 * it would name is not in its namespace: kgateway's and agentgateway's
 * deployers refuse a Gateway whose parametersRef names a missing object
 * (Accepted=False, InvalidParameters), so adding it would break a Gateway
 * that deploys today with the defaults. It says what to do, in under ~120
 * characters for usual names.
 */
export function missingParametersWarning(kind: string, namespace: string, name: string): string {
  return `parametersRef not added: create ${kind} ${namespace}/${name}, then re-apply the Gateway`;
}

/** The patch an agentgateway Gateway needs, before any regard for its class's parameters; [] for every other object. */
function patchWanted(gateway: KubeObject, settings: RuleSettings, view: ClusterView): JsonPatchOperation[] {
  if (gateway.metadata?.deletionTimestamp) return [];
  if (gateway.metadata?.annotations?.[SKIP_ANNOTATION] === 'true') return [];
  const spec = gateway.spec;
  if (!isRecord(spec) || !isAgentgatewayClass(spec.gatewayClassName, settings, view)) return [];
  return parametersRefPatch(spec, settings);
}

export function gatewayParametersRefRule(settings: RuleSettings): Rule {
  return {
    name: 'gateway-parameters-ref',
    operations: ['CREATE', 'UPDATE'],
    handles: (request) => request.kind.group === GATEWAY_API_GROUP && request.kind.kind === 'Gateway',
    decide(request: AdmissionRequest, view: ClusterView): Verdict {
      const gateway = request.object;
      if (!gateway) return allowed();
      const patch = patchWanted(gateway, settings, view);
      if (patch.length === 0) return allowed();
      // A Gateway-level ref may replace what the class's parametersRef sets
      // (replicas, image, resources): never change such a Gateway silently.
      // Which releases merge the two: src/rules/profiles.ts.
      const className = (gateway.spec as { gatewayClassName: string }).gatewayClassName;
      const classRef = view.gatewayClassParametersRef(className);
      if (classRef && settings.classParameters === 'skip') return withWarnings(allowed(), classParametersWarning('skip', className, classRef));
      const classWarnings = classRef ? [classParametersWarning('add', className, classRef)] : [];
      // parametersRef is namespace-local: the object must sit beside the Gateway,
      // or the deployer refuses the Gateway. With copies on, the copier puts one
      // there (shortly after: the deployer retries) as long as the source exists.
      const { group, kind, name } = settings.parametersRef;
      const namespace = namespaceOf(gateway, request.namespace);
      if (view.objectExists(group, kind, namespace, name) === false) {
        const copies = settings.copyParameters;
        const copied = copies !== undefined && view.objectExists(group, kind, copies.sourceNamespace, name) !== false;
        if (!copied) {
          const warnings = settings.missingParametersWarning ? [missingParametersWarning(kind, namespace, name)] : [];
          return withWarnings(allowed(), ...warnings);
        }
      }
      return withWarnings(patched(patch), ...classWarnings);
    },
  };
}
