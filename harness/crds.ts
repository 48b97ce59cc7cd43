// The Gateway API, kgateway and agentgateway CRDs: read from their sources,
// applied, and waited for until the API server serves them.
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';

import type * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';

import type { CrdDirs } from './binaries.ts';
import { renderCrdTemplate } from './referenceSiteScan.ts';
import { applyClusterObject, kubeRequest } from './kubeApi.ts';
import { sleep, waitFor } from './wait.ts';

export interface InstalledCrds {
  /** Names of the CRDs applied (all Established). */
  crds: string[];
  /** Other objects applied, e.g. "ValidatingAdmissionPolicy/safe-upgrades.gateway.networking.k8s.io". */
  others: string[];
  skipped: { file: string; reason: string }[];
  notes: string[];
}

export interface CrdManifests {
  objects: { file: string; obj: any }[];
  skipped: { file: string; reason: string }[];
  notes: string[];
}

/**
 * Reads every YAML manifest in the CRD dirs. Skips NOTES.txt / non-YAML files.
 * Files with Helm template syntax are rendered as far as guards and escaped
 * literals go (renderCrdTemplate); a file with `{{` left is skipped (and reported).
 */
export async function loadCrdManifests(crdDirs: CrdDirs, { includeVap = true }: { includeVap?: boolean } = {}): Promise<CrdManifests> {
  const objects: CrdManifests['objects'] = [];
  const skipped: CrdManifests['skipped'] = [];
  const notes: string[] = [];
  for (const [, dir] of Object.entries(crdDirs)) {
    const files = (await fsp.readdir(dir)).filter((f) => f.endsWith('.yaml') || f.endsWith('.yml')).sort();
    for (const f of files) {
      const file = path.join(dir, f);
      if (!includeVap && /vap/i.test(f)) {
        skipped.push({ file, reason: 'ValidatingAdmissionPolicy file skipped (includeVap=false)' });
        continue;
      }
      let text = await fsp.readFile(file, 'utf8');
      if (text.includes('{{')) {
        const rendered = renderCrdTemplate(text);
        if (rendered.templateLeft) {
          skipped.push({ file, reason: 'contains Helm template expressions' });
          continue;
        }
        text = rendered.text;
        notes.push(`${f}: rendered Helm guards and string literals`);
      }
      for (const doc of parseAllDocuments(text)) {
        if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0]?.message}`);
        const obj = doc.toJS();
        if (obj && typeof obj === 'object' && obj.kind) objects.push({ file, obj });
      }
    }
  }
  return { objects, skipped, notes };
}

/** Runs fn over items with at most `limit` calls in flight. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]!, i);
      }
    }),
  );
  return results;
}

/**
 * Applies the CRDs (then the gateway-api ValidatingAdmissionPolicy, if any) and
 * waits until every CRD is Established.
 */
export async function installCrds(
  kc: k8s.KubeConfig,
  crdDirs: CrdDirs,
  { includeVap = true, timeoutMs = 120_000, createGrace = true }: { includeVap?: boolean; timeoutMs?: number; createGrace?: boolean } = {},
): Promise<InstalledCrds> {
  const { objects, skipped, notes } = await loadCrdManifests(crdDirs, { includeVap });
  const crds = objects.filter((o) => o.obj.kind === 'CustomResourceDefinition');
  const others = objects.filter((o) => o.obj.kind !== 'CustomResourceDefinition');
  await mapLimit(crds, 4, async ({ file, obj }) => {
    try {
      await applyClusterObject(kc, obj);
    } catch (e) {
      throw new Error(`applying ${path.basename(file)}: ${(e as Error).message}`);
    }
  });
  const appliedOther: string[] = [];
  for (const { file, obj } of others) {
    try {
      await applyClusterObject(kc, obj);
      appliedOther.push(`${obj.kind}/${obj.metadata.name}`);
    } catch (e) {
      skipped.push({ file, reason: `${obj.kind}/${obj.metadata?.name}: ${(e as Error).message}` });
    }
  }
  const names: string[] = crds.map((c) => c.obj.metadata.name);
  const establishedAt = await waitForCrdsEstablished(kc, names, timeoutMs);
  await waitForCrdsServing(kc, crds.map((c) => c.obj), timeoutMs);
  if (createGrace) {
    // The API server sleeps 2 s in every create of a custom resource whose CRD became
    // Established less than 2 s ago (customresource_handler.go, "justCreated").
    const wait = establishedAt + 2050 - Date.now();
    if (wait > 0) await sleep(wait);
  }
  return { crds: names, others: appliedOther, skipped, notes };
}

/**
 * Polls until every named CRD has condition Established=True.
 * Resolves to the latest Established lastTransitionTime (ms since epoch).
 */
export async function waitForCrdsEstablished(kc: k8s.KubeConfig, names: string[], timeoutMs = 120_000): Promise<number> {
  const pending = new Set(names);
  let latest = 0;
  const deadline = Date.now() + timeoutMs;
  while (pending.size) {
    await Promise.all(
      [...pending].map(async (name) => {
        const res = await kubeRequest(kc, 'GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
        const conds: { type: string; status: string; lastTransitionTime: string }[] = res.status === 200 ? (res.body?.status?.conditions ?? []) : [];
        const est = conds.find((c) => c.type === 'Established' && c.status === 'True');
        if (est) {
          pending.delete(name);
          latest = Math.max(latest, Date.parse(est.lastTransitionTime) || 0);
        }
      }),
    );
    if (!pending.size) break;
    if (Date.now() > deadline) throw new Error(`CRDs not Established after ${timeoutMs}ms: ${[...pending].join(', ')}`);
    await sleep(100);
  }
  return latest;
}

/**
 * Established is not quite enough: the API server creates a CRD's storage (and its
 * watch cache) on first use, and until that cache is ready lists answer 429 and the
 * first write waits ~2 s. Listing every served version once, until 200, does that
 * for all CRDs in parallel during start-up instead of inside the first test.
 */
export async function waitForCrdsServing(kc: k8s.KubeConfig, crdObjects: any[], timeoutMs = 120_000): Promise<void> {
  await Promise.all(
    crdObjects.flatMap((crd) =>
      ((crd.spec.versions ?? []) as { name: string; served: boolean }[])
        .filter((v) => v.served)
        .map((v) =>
          waitFor(
            `${crd.metadata.name} ${v.name} served`,
            async () =>
              (await kubeRequest(kc, 'GET', `/apis/${crd.spec.group}/${v.name}/${crd.spec.names.plural}?limit=1`)).status === 200,
            { timeoutMs, intervalMs: 100 },
          ),
        ),
    ),
  );
}
