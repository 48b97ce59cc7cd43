// npm run sites:generate [-- --checkout RELEASE=DIR]… [--check]
//
// Reads the CRDs of every release in harness/releaseMatrix.ts from the Go
// module cache (`go mod download -json`), writes each release's sites to
// test/fixtures/releases/RELEASE.json and the joined table to
// src/rules/generated/referenceSites.ts. A release the module proxy does not
// serve keeps its committed extract, or is read again from a checkout of its
// tag given with --checkout (e.g. --checkout agentgateway-v1.0.0=/tmp/agw-v1.0.0).
// --check writes nothing and exits 1 when a file would change.
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';

import { readCrds, sitesOfCrd } from '../harness/referenceSiteScan.ts';
import { crdDirsIn, moduleDir, RELEASES, type Release } from '../harness/releaseMatrix.ts';
import { REPO_ROOT } from '../harness/repoRoot.ts';
import { buildRows, EXTRACT_DIR, extractOf, releaseEntry, renderExtract, renderTable, TABLE_FILE, type ReleaseExtract } from './referenceSiteTable.ts';

function parseArgs(argv: string[]): { checkouts: Map<string, string>; check: boolean } {
  const checkouts = new Map<string, string>();
  let check = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--check') check = true;
    else if (arg === '--checkout' && argv[i + 1]?.includes('=')) {
      const [id, dir] = argv[++i]!.split(/=(.*)/s) as [string, string];
      checkouts.set(id, path.resolve(dir));
    } else throw new Error(`unknown argument ${arg}; usage: reference-sites.ts [--checkout RELEASE=DIR]… [--check]`);
  }
  return { checkouts, check };
}

async function scan(release: Release, root: string, readFrom: string): Promise<ReleaseExtract> {
  const sites = [];
  for (const dir of await crdDirsIn(release, root)) for (const crd of await readCrds(dir)) sites.push(...sitesOfCrd(crd));
  return extractOf(release, readFrom, sites);
}

async function committedExtract(release: Release): Promise<ReleaseExtract | undefined> {
  try {
    return JSON.parse(await fsp.readFile(path.join(REPO_ROOT, EXTRACT_DIR, `${release.id}.json`), 'utf8')) as ReleaseExtract;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function main(): Promise<number> {
  const { checkouts, check } = parseArgs(process.argv.slice(2));
  const extracts: ReleaseExtract[] = [];
  const entries = [];
  const files = new Map<string, string>();
  for (const release of RELEASES) {
    let extract: ReleaseExtract | undefined;
    const checkout = checkouts.get(release.id);
    if (checkout) {
      extract = await scan(release, checkout, `tag ${release.version} of the upstream repository`);
    } else if (!release.notServed) {
      extract = await scan(release, await moduleDir(release), `module ${release.module}@${release.version}`);
    } else {
      extract = await committedExtract(release);
      console.error(`${release.id}: not served by the module proxy; ${extract ? 'keeping its committed extract' : 'no extract, no sites'}`);
    }
    if (extract) {
      extracts.push(extract);
      files.set(path.join(EXTRACT_DIR, `${release.id}.json`), renderExtract(extract));
    }
    entries.push(releaseEntry(release, extract));
  }
  files.set(TABLE_FILE, renderTable(buildRows(extracts), entries));
  let changed = 0;
  for (const [file, text] of files) {
    const full = path.join(REPO_ROOT, file);
    const before = await fsp.readFile(full, 'utf8').catch(() => undefined);
    if (before === text) continue;
    changed++;
    if (check) {
      console.error(`${file} is out of date: run npm run sites:generate`);
      continue;
    }
    await fsp.mkdir(path.dirname(full), { recursive: true });
    await fsp.writeFile(full, text);
    console.error(`wrote ${file}`);
  }
  const sites = extracts.reduce((n, e) => n + e.sites.length, 0);
  console.error(`${extracts.length} releases read, ${sites} sites in all, ${changed} file(s) ${check ? 'out of date' : 'written'}`);
  return check && changed > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error((error as Error).message);
    process.exit(2);
  },
);
