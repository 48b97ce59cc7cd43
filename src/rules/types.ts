/**
 * The admission request as the rules see it: the decoded `request` of an
 * admission.k8s.io/v1 AdmissionReview, without any transport detail.
 */
/** The Kubernetes Gateway API's group: Gateway, GatewayClass, ReferenceGrant. */
export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    generateName?: string;
    namespace?: string;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
    deletionTimestamp?: string;
    [key: string]: unknown;
  };
  spec?: unknown;
  [key: string]: unknown;
}

export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  operation: Operation;
  namespace?: string;
  name?: string;
  object?: KubeObject | null;
  oldObject?: KubeObject | null;
  dryRun?: boolean;
}

/** One RFC 6902 operation; the rules only ever add. */
export interface JsonPatchOperation {
  op: 'add' | 'replace' | 'remove' | 'test';
  path: string;
  value?: unknown;
}

/**
 * What a rule decides. The admission envelope turns it into an
 * AdmissionResponse (uid, status code, base64 patch) in one place.
 */
export interface Verdict {
  allowed: boolean;
  /**
   * Shown to the user on denial (status.message). On a verdict admitted in
   * warn mode (`warned`), the message deny mode would give: not sent, but what
   * `audit` and `check` report, since kgateway still refuses the refs.
   */
  message?: string;
  /** HTTP-style status code for a denial: 403 for policy, 503 when not ready. */
  code?: number;
  patch: JsonPatchOperation[];
  warnings: string[];
  /**
   * Admitted only because enforcement is warn where it applies: with deny, this
   * verdict would be a denial (Gatekeeper's enforcementAction: warn). Counted
   * as its own decision.
   */
  warned?: boolean;
  /** Why it was denied or warned, on one line, for the decision log; names only. */
  reason?: string;
  /**
   * On denial (and on a warned verdict, as `message`): objects that, created
   * as they are (`kubectl apply`), would get the request admitted, e.g. the
   * ReferenceGrants it lacks. The message shows
   * them as YAML; `check` and `audit` print them as JSON.
   */
  suggestions?: KubeObject[];
}
