import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import { readCrds, sitesOfCrd, sitesOfSchema } from '../../../harness/referenceSiteScan.ts';
import { crdDirsIn, downloadCommand, moduleDir, RELEASES, SERVED_RELEASES, type Release } from '../../../harness/releaseMatrix.ts';
import { REPO_ROOT } from '../../../harness/repoRoot.ts';
import { buildRows, EXTRACT_DIR, extractOf, releaseEntry, renderTable, siteKey, TABLE_FILE, type ReleaseExtract } from '../../../scripts/referenceSiteTable.ts';
import { builtInBackendRefKinds } from '../../../src/rules/backendRefKinds.js';
import { REFERENCE_SITE_CITATIONS, REFERENCE_SITE_RELEASES, REFERENCE_SITES } from '../../../src/rules/generated/referenceSites.js';

async function committedExtract(release: Release): Promise<ReleaseExtract | undefined> {
  try {
    return JSON.parse(await readFile(path.join(REPO_ROOT, EXTRACT_DIR, `${release.id}.json`), 'utf8')) as ReleaseExtract;
  } catch {
    return undefined;
  }
}

const extracts = (await Promise.all(RELEASES.map(committedExtract))).filter((e): e is ReleaseExtract => e !== undefined);

describe('the reference-site table against the CRDs of the release matrix', () => {
  // The CRDs come from the Go module cache (.ci/run downloads them first). On
  // CI a module that cannot be had fails the test; elsewhere it is skipped
  // with the command that fetches it.
  it.for(SERVED_RELEASES.map((r) => [r.id, r] as const))('%s: the committed extract is what its CRDs hold', async ([, release], ctx) => {
    let dir: string;
    try {
      dir = await moduleDir(release);
    } catch (error) {
      if (process.env.CI === 'true') throw error;
      ctx.skip(`${(error as Error).message}; run ${downloadCommand()}`);
      return;
    }
    const sites = [];
    for (const crdDir of await crdDirsIn(release, dir)) for (const crd of await readCrds(crdDir)) sites.push(...sitesOfCrd(crd));
    const fromCrds = extractOf(release, `module ${release.module}@${release.version}`, sites);
    const committed = await committedExtract(release);
    expect(committed, `${EXTRACT_DIR}/${release.id}.json is missing: run npm run sites:generate`).toBeDefined();
    const missing = fromCrds.sites.filter((s) => !committed!.sites.some((c) => siteKey(c) === siteKey(s) && c.version === s.version)).map(siteKey);
    const extra = committed!.sites.filter((c) => !fromCrds.sites.some((s) => siteKey(c) === siteKey(s) && c.version === s.version)).map(siteKey);
    expect({ missing, extra }, 'run npm run sites:generate').toEqual({ missing: [], extra: [] });
    expect(committed).toEqual(fromCrds);
  });

  it('has every site of every release, and none that no release has', () => {
    const inCrds = new Set(extracts.flatMap((e) => e.sites.map(siteKey)));
    const inTable = new Set(REFERENCE_SITES.map(siteKey));
    expect([...inCrds].filter((k) => !inTable.has(k)), 'sites of a CRD that the table lacks').toEqual([]);
    expect([...inTable].filter((k) => !inCrds.has(k)), 'sites in the table that no CRD has').toEqual([]);
    for (const site of REFERENCE_SITES) {
      const holders = extracts.filter((e) => e.sites.some((s) => siteKey(s) === siteKey(site))).map((e) => e.release);
      expect(site.releases, siteKey(site)).toEqual(holders);
    }
  });

  it('is exactly what the generator makes of the committed extracts (so nobody edits it by hand)', async () => {
    const entries = RELEASES.map((r) => releaseEntry(r, extracts.find((e) => e.release === r.id)));
    const committed = await readFile(path.join(REPO_ROOT, TABLE_FILE), 'utf8');
    expect(renderTable(buildRows(extracts), entries)).toBe(committed);
  });

  it('records every release of the matrix, and why one has no sites', () => {
    expect(REFERENCE_SITE_RELEASES.map((r) => r.id)).toEqual(RELEASES.map((r) => r.id));
    for (const release of RELEASES) {
      const entry = REFERENCE_SITE_RELEASES.find((r) => r.id === release.id)!;
      if (!release.notServed) expect(entry.source, release.id).toBe('module');
      else if (release.notServed.extractFrom) expect(entry.source, `${release.id} needs its extract from a checkout of its tag`).toBe('tag checkout');
      else expect(entry, release.id).toEqual({ id: release.id, source: 'unavailable', note: release.notServed.reason });
    }
  });

  it('cites what the controller does for every site', () => {
    for (const site of REFERENCE_SITES) expect(REFERENCE_SITE_CITATIONS[site.cite], siteKey(site)).toMatch(/\.go\b|status|Kubernetes/);
  });

  it('counts the sites issue 26 measured in kgateway v2.4.2 and agentgateway v1.4.1 (status and route attachment left out)', () => {
    const count = (kind: string, release: string, key: RegExp) =>
      REFERENCE_SITES.filter((s) => s.kind === kind && s.releases.includes(release) && s.control !== 'none' && key.test(s.path)).length;
    expect(count('AgentgatewayPolicy', 'agentgateway-v1.4.1', /\.backendRef$/)).toBe(23);
    expect(count('AgentgatewayBackend', 'agentgateway-v1.4.1', /\.backendRef$/)).toBe(29);
    expect(count('AgentgatewayModel', 'agentgateway-v1.4.1', /\.backendRef$/)).toBe(9);
    expect(count('HTTPListenerPolicy', 'kgateway-v2.4.2', /\.backendRef$/)).toBe(3);
    expect(count('HTTPListenerPolicy', 'kgateway-v2.4.2', /\.secretRef$/)).toBe(2);
    expect(count('ListenerPolicy', 'kgateway-v2.4.2', /\.backendRef$/)).toBe(6);
    expect(count('ListenerPolicy', 'kgateway-v2.4.2', /\.secretRef$/)).toBe(4);
    expect(count('ListenerPolicy', 'kgateway-v2.4.2', /\.caCertificateRefs\[\]$/)).toBe(1);
    expect(count('GatewayExtension', 'kgateway-v2.4.2', /(backendRef|jwksBackendRef)$/)).toBe(7);
  });

  it('gives the webhook one row per kind with every site a controller may check', () => {
    const checked = REFERENCE_SITES.filter((s) => s.control !== 'none');
    expect(builtInBackendRefKinds.flatMap((row) => row.paths.map((p) => `${row.group}/${row.kind} ${p}`)).sort()).toEqual(checked.map(siteKey).sort());
    expect(new Set(builtInBackendRefKinds.map((r) => `${r.group}/${r.kind}`)).size).toBe(builtInBackendRefKinds.length);
    expect(builtInBackendRefKinds.find((r) => r.kind === 'AgentgatewayPolicy')!.paths).toContain('spec.frontend.accessLog.otlp.backendRef');
  });
});

describe('the generator', () => {
  const release = RELEASES.find((r) => r.id === 'kgateway-v2.4.2')!;

  it('stops at a site no control rule covers, naming it', () => {
    const extract: ReleaseExtract = {
      release: release.id,
      readFrom: 'test',
      sites: [{ group: 'gateway.kgateway.dev', kind: 'NewPolicy', version: 'v1alpha1', path: 'spec.thing.backendRef', fields: ['name', 'namespace'], required: ['name'], defaults: {} }],
    };
    expect(() => buildRows([extract])).toThrow('gateway.kgateway.dev/NewPolicy spec.thing.backendRef (kgateway-v2.4.2)');
  });

  it('finds sites under …Ref and …Refs keys, in arrays and behind allOf, and nowhere else', () => {
    const ref = { type: 'object', properties: { name: { type: 'string' }, namespace: { type: 'string' }, kind: { type: 'string', default: 'Service' } }, required: ['name'] };
    const sites = sitesOfSchema(
      {
        type: 'object',
        properties: {
          spec: {
            type: 'object',
            properties: {
              backendRef: ref,
              caCertificateRefs: { type: 'array', items: ref },
              nested: { allOf: [{ type: 'object', properties: { jwksBackendRef: ref } }] },
              target: ref,
              localRef: { type: 'object', properties: { name: { type: 'string' } } },
            },
          },
        },
      },
      { group: 'g', kind: 'K', version: 'v1' },
    );
    expect(sites.map((s) => s.path)).toEqual(['spec.backendRef', 'spec.caCertificateRefs[]', 'spec.nested.jwksBackendRef']);
    expect(sites[0]).toMatchObject({ key: 'backendRef', required: ['name'], defaults: { kind: 'Service' } });
  });
});
