import { REFERENCE_SITES } from './generated/referenceSites.js';
import type { ReferenceSite } from './referenceSites.js';
import type { BackendRefKind, BackendRefSite } from './settings.js';

/**
 * One row per kind, with every site of the generated table that the webhook
 * may check (all but `control: none`) under some grant mode; which of them
 * need a grant in the modes in force is decided per ref (grantModes.ts).
 * A kind's versions are every version any release serves it at. Sites of
 * every release are read together: a field a release does not know is
 * pruned by its API server before the webhook sees the object.
 */
export function backendRefKindsOf(sites: readonly ReferenceSite[]): BackendRefKind[] {
  const rows = new Map<string, BackendRefKind & { paths: string[]; versions: string[]; sites: Record<string, BackendRefSite> }>();
  for (const site of sites) {
    if (site.control === 'none') continue;
    const key = `${site.group}/${site.kind}`;
    let row = rows.get(key);
    if (!row) rows.set(key, (row = { group: site.group, kind: site.kind, paths: [], versions: [], sites: {} }));
    row.paths.push(site.path);
    for (const v of site.versions) if (!row.versions.includes(v)) row.versions.push(v);
    row.sites[site.path] = { target: site.target, control: site.control, ...(site.grantFrom ? { grantFrom: site.grantFrom } : {}) };
  }
  return [...rows.values()];
}

/**
 * The built-in table: every reference site of the releases in
 * harness/releaseMatrix.ts that a controller may check, from
 * src/rules/generated/referenceSites.ts (`npm run sites:generate`). A new
 * release is a new line in the matrix, not new code.
 */
export const builtInBackendRefKinds: readonly BackendRefKind[] = backendRefKindsOf(REFERENCE_SITES);
