// The releases of kgateway and agentgateway the webhook is checked against:
// one line per release. Their CRDs come from the Go module cache
// (`go mod download -json MODULE@VERSION` gives the module's Dir); the
// reference-site table (src/rules/generated/referenceSites.ts), its unit test
// and the e2e that installs each release's CRDs in turn all read this list.
import { execFile } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export type Product = 'kgateway' | 'agentgateway';

export interface Release {
  /** `product-version`, the name the table and the fixtures use. */
  id: string;
  product: Product;
  version: string;
  module: string;
  /** The CRD chart templates, relative to the module root; every one present is read. */
  crdDirs: string[];
  /** The profile (src/rules/profiles.ts) a cluster on this release runs with. */
  profile: string;
  /**
   * Set where the Go module proxy does not serve this version: what was done
   * instead. A release with an extract (test/fixtures/releases/ID.json) made
   * from a checkout of its tag keeps it; one without has no sites in the table.
   */
  notServed?: { reason: string; extractFrom?: 'tag checkout' };
}

const KGATEWAY = 'github.com/kgateway-dev/kgateway/v2';
const AGENTGATEWAY = 'github.com/agentgateway/agentgateway';
const KGATEWAY_CRDS = ['install/helm/kgateway-crds/templates', 'install/helm/agentgateway-crds/templates'];
const AGENTGATEWAY_CRDS = ['controller/install/helm/agentgateway-crds/templates'];
const REFUSED = 'the Go module proxy answers 403 "not available" for this version (checked 2026-12-07)';

export const RELEASES: readonly Release[] = [
  { id: 'kgateway-v2.1.2', product: 'kgateway', version: 'v2.1.2', module: KGATEWAY, crdDirs: KGATEWAY_CRDS, profile: 'kgateway-v2.1', notServed: { reason: REFUSED } },
  { id: 'kgateway-v2.2.0', product: 'kgateway', version: 'v2.2.0', module: KGATEWAY, crdDirs: KGATEWAY_CRDS, profile: 'agentgateway-v2.2' },
  { id: 'kgateway-v2.3.1', product: 'kgateway', version: 'v2.3.1', module: KGATEWAY, crdDirs: KGATEWAY_CRDS, profile: 'kgateway-v2.3', notServed: { reason: REFUSED } },
  { id: 'kgateway-v2.4.2', product: 'kgateway', version: 'v2.4.2', module: KGATEWAY, crdDirs: KGATEWAY_CRDS, profile: 'kgateway-v2.4' },
  {
    id: 'agentgateway-v1.0.0',
    product: 'agentgateway',
    version: 'v1.0.0',
    module: AGENTGATEWAY,
    crdDirs: AGENTGATEWAY_CRDS,
    profile: 'agentgateway-v1',
    notServed: { reason: REFUSED, extractFrom: 'tag checkout' },
  },
  { id: 'agentgateway-v1.4.1', product: 'agentgateway', version: 'v1.4.1', module: AGENTGATEWAY, crdDirs: AGENTGATEWAY_CRDS, profile: 'agentgateway-v1' },
];

/** The releases whose CRDs the Go module proxy serves: those a test can read and install. */
export const SERVED_RELEASES: readonly Release[] = RELEASES.filter((r) => !r.notServed);

export function releaseById(id: string): Release {
  const release = RELEASES.find((r) => r.id === id);
  if (!release) throw new Error(`no release ${id} in harness/releaseMatrix.ts (known: ${RELEASES.map((r) => r.id).join(', ')})`);
  return release;
}

/** The command that puts every served release's module in the module cache (.ci/run runs it). */
export function downloadCommand(): string {
  return `go mod download ${SERVED_RELEASES.map((r) => `${r.module}@${r.version}`).join(' ')}`;
}

function goBinary(): string {
  return process.env.GO ?? 'go';
}

/**
 * The module's directory in the Go module cache, downloading it when missing
 * (from the cache it answers in milliseconds). Throws with the proxy's answer
 * when the module cannot be had.
 */
export async function moduleDir(release: Release): Promise<string> {
  let stdout: string;
  try {
    // Outside any module: GOFLAGS=-mod=mod is not needed and GOWORK must not apply.
    ({ stdout } = await execFileP(goBinary(), ['mod', 'download', '-json', `${release.module}@${release.version}`], {
      env: { ...process.env, GOWORK: 'off', GOFLAGS: '' },
      maxBuffer: 1 << 20,
    }));
  } catch (error) {
    const out = (error as { stdout?: string }).stdout;
    const detail = out ? ((JSON.parse(out) as { Error?: string }).Error ?? out) : (error as Error).message;
    throw new Error(`go mod download ${release.module}@${release.version} failed: ${detail}`);
  }
  const info = JSON.parse(stdout) as { Dir?: string; Error?: string };
  if (!info.Dir) throw new Error(`go mod download ${release.module}@${release.version}: ${info.Error ?? 'no Dir in its answer'}`);
  return info.Dir;
}

/** The CRD folders of a release that exist under `root` (a module Dir or a checkout of its tag). */
export async function crdDirsIn(release: Release, root: string): Promise<string[]> {
  const present: string[] = [];
  for (const dir of release.crdDirs) {
    const full = path.join(root, dir);
    try {
      await fsp.access(full);
      present.push(full);
    } catch {
      // kgateway 2.4 ships no agentgateway CRDs: a folder a release lacks is not an error.
    }
  }
  if (present.length === 0) throw new Error(`${release.id}: none of ${release.crdDirs.join(', ')} under ${root}`);
  return present;
}
