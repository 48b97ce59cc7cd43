import type { ClusterView } from './clusterView.js';
import type { Rule } from './rule.js';
import type { RuleSettings } from './settings.js';
import type { AdmissionRequest, JsonPatchOperation, Verdict } from './types.js';
import { allowed, patched, withWarnings } from './verdicts.js';
import { isRecord } from './objectPaths.js';

export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';
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

export function gatewayParametersRefRule(settings: RuleSettings): Rule {
  return {
    name: 'gateway-parameters-ref',
    operations: ['CREATE', 'UPDATE'],
    handles(request) {
      return (
        (request.operation === 'CREATE' || request.operation === 'UPDATE') &&
        request.kind.group === GATEWAY_API_GROUP &&
        request.kind.kind === 'Gateway'
      );
    },
    decide(request: AdmissionRequest, view: ClusterView): Verdict {
      const gateway = request.object;
      if (!gateway || gateway.metadata?.deletionTimestamp) return allowed();
      if (gateway.metadata?.annotations?.[SKIP_ANNOTATION] === 'true') return allowed();
      const spec = gateway.spec;
      if (!isRecord(spec) || !isAgentgatewayClass(spec.gatewayClassName, settings, view)) return allowed();
      const patch = parametersRefPatch(spec, settings);
      if (patch.length === 0) return allowed();
      // parametersRef is namespace-local: the object must sit beside the Gateway.
      const { group, kind, name } = settings.parametersRef;
      const namespace = gateway.metadata?.namespace || request.namespace || 'default';
      if (settings.missingParametersWarning && view.objectExists(group, kind, namespace, name) === false) {
        return withWarnings(patched(patch), `${kind} ${namespace}/${name} not found: create it, or the proxy starts without OTEL settings`);
      }
      return patched(patch);
    },
  };
}
