
/**
 * What the rules may ask of the cluster. Implementations live in src/cluster
 * (manifest files, or list+watch of a live API server); every method answers
 * from memory so a decision never waits on the network.
 */
/** The parts of a ReferenceGrant spec that decide what it allows. */
export interface GrantEntries {
  from: { group: string; kind: string; namespace: string }[];
  /** `name` is '' when the entry allows every object of its group and kind. */
  to: { group: string; kind: string; name: string }[];
}

export interface ReferenceFrom {
  group: string;
  kind: string;
  namespace: string;
}

export interface ReferenceTo {
  group: string;
  kind: string;
  namespace: string;
  name: string;
}

/** An object whose backendRefs point into a namespace other than its own. */
export interface Referrer {
  from: ReferenceFrom;
  name: string;
  /** Its targets in the namespace asked about. */
  targets: ReferenceTo[];
}

/** spec.parametersRef of a GatewayClass: cluster-scoped, so it may name a namespace. */
export interface GatewayClassParametersRef {
  group: string;
  kind: string;
  name: string;
  namespace?: string;
}

export interface ClusterView {
  /** Whether a ReferenceGrant in `to.namespace` lets `from` refer to `to` (GEP-709). */
  isReferenceGranted(from: ReferenceFrom, to: ReferenceTo): boolean;
  /** spec.controllerName of a GatewayClass, when the view knows that class. */
  gatewayClassController(className: string): string | undefined;
  /** spec.parametersRef of a GatewayClass, when the view knows that class and it has one. */
  gatewayClassParametersRef(className: string): GatewayClassParametersRef | undefined;
  /** Whether an object exists, or undefined when the view does not track that kind. */
  objectExists(group: string, kind: string, namespace: string, name: string): boolean | undefined;
  /** The ReferenceGrants that live in a namespace, by name. */
  referenceGrantsIn(namespace: string): ReadonlyMap<string, GrantEntries>;
  /** Objects in other namespaces with backendRefs into this one. */
  referrersInto(namespace: string): readonly Referrer[];
  /** The value of a Namespace's kgateway-admission.dev/enforcement label, when the view knows it. */
  namespaceEnforcement(namespace: string): string | undefined;
}

/** At most this many namespaces' ReferenceGrants are read again for one request; the rest are decided on the cached view. */
export const MAX_REREAD_NAMESPACES = 8;

/** Why the ReferenceGrants of a namespace a denial rested on were not read again from the API server. */
export type UnreadReason = 'request-limit' | 'rate-limit' | 'failed';

/**
 * A decision taken again, before a denial is sent, against a view whose
 * ReferenceGrants for the namespaces the first decision found ungranted were
 * read just now from the API server (a watch can lag a `kubectl apply` that
 * sends a grant and the object needing it together).
 */
export interface Reconsidered<T> {
  result: T;
  /** Namespaces whose grants were read again. */
  reread: string[];
  /** Namespaces decided on the cached view, and why. */
  unread: { namespace: string; reason: UnreadReason }[];
  /** The first read failure, when there was one. */
  error?: unknown;
}

/** Decides again with fresh ReferenceGrants for the namespaces `decide` finds ungranted. */
export type Reconsider = <T>(decide: (view: ClusterView) => T) => Promise<Reconsidered<T>>;
