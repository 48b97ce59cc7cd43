import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { readManifestText, type ManifestObject } from '../cluster/manifests.js';
import { isRecord } from '../rules/objectPaths.js';

/** Set by `kustomize build` with `buildMetadata: [originAnnotations]`: where each object came from. */
export const ORIGIN_ANNOTATION = 'config.kubernetes.io/origin';

/** The origin's local source file, when the object came from one (not from a remote `repo`, not generated). */
function originPath(object: ManifestObject['object']): string | undefined {
  const text = object.metadata?.annotations?.[ORIGIN_ANNOTATION];
  if (typeof text !== 'string') return undefined;
  let origin: unknown;
  try {
    origin = parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(origin) || typeof origin.path !== 'string' || origin.path === '' || origin.repo !== undefined) return undefined;
  return origin.path;
}

/**
 * Objects rendered by kustomize point at their source file, and the line of
 * the document there with the same kind and name when that file can be read
 * from here (kustomize records no line); else the file alone (line 0) — a
 * pull request's annotations then land on the file, not on `<stdin>`.
 */
export function atKustomizeOrigin(manifests: readonly ManifestObject[]): ManifestObject[] {
  const sources = new Map<string, ManifestObject[]>();
  const sourceObjects = (path: string): ManifestObject[] => {
    let objects = sources.get(path);
    if (!objects) {
      objects = existsSync(path) ? readManifestText(readFileSync(path, 'utf8'), path).objects : [];
      sources.set(path, objects);
    }
    return objects;
  };
  return manifests.map((manifest) => {
    const path = originPath(manifest.object);
    if (!path) return manifest;
    const source = sourceObjects(path).find((o) => o.object.kind === manifest.object.kind && o.object.metadata?.name === manifest.object.metadata?.name);
    return { ...manifest, file: path, line: source?.line ?? 0 };
  });
}
