import type { GrantControl } from './grantModes.js';

/**
 * A reference site: a place in a kind's schema where an object names another
 * by name and namespace (an object with `name` and `namespace` under a `…Ref`
 * or `…Refs` key). The table of them, src/rules/generated/referenceSites.ts,
 * is generated from the CRDs of every release in harness/releaseMatrix.ts by
 * `npm run sites:generate`; what each controller does with a site is joined
 * in from scripts/referenceSiteControls.ts, where it is cited.
 */
export interface ReferenceSite {
  group: string;
  kind: string;
  /** The API versions whose schema has this site. */
  versions: readonly string[];
  /** Dotted path from the object root; `[]` marks an array whose every item is visited. */
  path: string;
  /** What a reference here names when it leaves `group` and `kind` out. */
  target: { group: string; kind: string };
  /** The releases (harness/releaseMatrix.ts ids) whose CRDs have it. */
  releases: readonly string[];
  /**
   * The controller setting that decides whether a cross-namespace reference
   * here needs a ReferenceGrant, or `none`: the webhook never checks it
   * (status written by the controller, route attachment, a Kubernetes field).
   */
  control: GrantControl | 'none';
  /**
   * The `from` a ReferenceGrant must name when the controller checks the
   * reference as another object than the referrer (kgateway resolves a
   * ListenerPolicy's CA certificate refs as the Gateway it attaches to, in
   * the policy's namespace).
   */
  grantFrom?: { group: string; kind: string };
  /** Key of the citation (`REFERENCE_SITE_CITATIONS`) that says what the controller does with it. */
  cite: string;
}

/** A release line of the matrix as the generated table records it. */
export interface ReferenceSiteRelease {
  id: string;
  /** Where its sites were read: its Go module, a checkout of its tag (the proxy refuses it), or nowhere. */
  source: 'module' | 'tag checkout' | 'unavailable';
  note?: string;
}
