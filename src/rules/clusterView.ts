
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

/**
 * Decides again with fresh ReferenceGrants for `namespaces`: those the first
 * decision, `decided`, found ungranted (see `recordingUngranted`), in the
 * order it asked. When the grants read are the ones the view already holds,
 * `decided` is the answer as it is (deciding is pure): no second decision.
 */
export type Reconsider = <T>(namespaces: readonly string[], decide: (view: ClusterView) => T, decided: T) => Promise<Reconsidered<T>>;

/**
 * `base` with some of its answers replaced: the one wrapper for every view
 * that differs from another in a question or two (the grants read again
 * before a denial, a view that records what was asked). Built on the
 * prototype chain, so a method added to ClusterView needs no edit here: the
 * methods not overridden are base's, run with the overlay as `this`, and find
 * base's state through the chain (a view's questions only read, never write).
 */
export function overlayView(base: ClusterView, overrides: Partial<ClusterView>): ClusterView {
  return Object.assign(Object.create(base) as ClusterView, overrides);
}

/**
 * `view`, recording each namespace in which it finds a reference ungranted:
 * what a denial decided on it may rest on, so the namespaces whose grants are
 * worth reading again. Recorded during the decision itself, in the order
 * asked, rather than by deciding a second time.
 */
export function recordingUngranted(view: ClusterView): { view: ClusterView; namespaces: Set<string> } {
  const namespaces = new Set<string>();
  return {
    namespaces,
    view: overlayView(view, {
      isReferenceGranted(from, to) {
        const granted = view.isReferenceGranted(from, to);
        if (!granted) namespaces.add(to.namespace);
        return granted;
      },
    }),
  };
}
