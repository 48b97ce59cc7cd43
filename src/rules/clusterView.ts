/**
 * What the rules may ask of the cluster. Implementations live in src/cluster
 * (manifest files, or list+watch of a live API server); every method answers
 * from memory so a decision never waits on the network.
 */
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

export interface ClusterView {
  /** Whether a ReferenceGrant in `to.namespace` lets `from` refer to `to` (GEP-709). */
  isReferenceGranted(from: ReferenceFrom, to: ReferenceTo): boolean;
  /** spec.controllerName of a GatewayClass, when the view knows that class. */
  gatewayClassController(className: string): string | undefined;
  /** Whether an object exists, or undefined when the view does not track that kind. */
  objectExists(group: string, kind: string, namespace: string, name: string): boolean | undefined;
}
