import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { LineCounter, parseAllDocuments } from 'yaml';
import type { KubeObject } from '../rules/types.js';
import { isRecord } from '../rules/objectPaths.js';

export interface ManifestObject {
  object: KubeObject;
  file: string;
  line: number;
}

/** Input that cannot be read or parsed; the message names the file and line. */
export class ManifestError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    detail: string,
  ) {
    super(line === undefined ? `${file}: ${detail}` : `${file}:${line}: ${detail}`);
    this.name = 'ManifestError';
  }
}

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

async function manifestFiles(path: string): Promise<string[]> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    throw new ManifestError(path, undefined, `cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  if (!info.isDirectory()) return [path];
  const entries = await readdir(path, { withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) files.push(...(await manifestFiles(child)));
    else if (MANIFEST_EXTENSIONS.has(extname(entry.name).toLowerCase())) files.push(child);
  }
  return files;
}

/** Parses one file's text: every YAML document (JSON is YAML too), `kind: List` expanded. */
export function parseManifests(text: string, file: string): ManifestObject[] {
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (!Array.isArray(documents)) {
    // parseAllDocuments returns an EmptyStream for input with no documents.
    return [];
  }
  const objects: ManifestObject[] = [];
  for (const document of documents) {
    const line = lineCounter.linePos(document.range[0]).line;
    const error = document.errors[0];
    if (error) {
      const at = error.linePos?.[0]?.line ?? lineCounter.linePos(error.pos[0]).line;
      throw new ManifestError(file, at, `invalid YAML: ${error.message.split('\n')[0]}`);
    }
    let value: unknown;
    try {
      // The alias limit stops a "billion laughs" document from expanding.
      value = document.toJS({ maxAliasCount: 100 });
    } catch (error) {
      throw new ManifestError(file, line, `cannot read the document: ${(error as Error).message.split('\n')[0]}`);
    }
    if (value === null || value === undefined) continue;
    const contentLine = document.contents ? lineCounter.linePos(document.contents.range[0]).line : line;
    if (!isRecord(value) || typeof value.apiVersion !== 'string' || typeof value.kind !== 'string') {
      throw new ManifestError(file, contentLine, 'not a Kubernetes object: a document needs string apiVersion and kind');
    }
    if (value.kind === 'List' || (value.kind.endsWith('List') && Array.isArray(value.items))) {
      const items = Array.isArray(value.items) ? value.items : [];
      for (const item of items) {
        if (!isRecord(item) || typeof item.apiVersion !== 'string' || typeof item.kind !== 'string') {
          throw new ManifestError(file, contentLine, 'not a Kubernetes object: a List item needs string apiVersion and kind');
        }
        objects.push({ object: item as KubeObject, file, line: contentLine });
      }
      continue;
    }
    objects.push({ object: value as KubeObject, file, line: contentLine });
  }
  return objects;
}

/** The file name that objects read from stdin carry. */
export const STDIN_NAME = '<stdin>';

async function readStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Reads files and folders (recursively, .yaml/.yml/.json) in a stable order;
 * `-` reads one YAML stream from stdin (`kustomize build … | … check -`).
 */
export async function loadManifests(paths: readonly string[], stdin: NodeJS.ReadableStream = process.stdin): Promise<ManifestObject[]> {
  if (paths.filter((path) => path === '-').length > 1) throw new ManifestError(STDIN_NAME, undefined, '- (stdin) can be named only once');
  const objects: ManifestObject[] = [];
  for (const path of paths) {
    if (path === '-') {
      objects.push(...parseManifests(await readStdin(stdin), STDIN_NAME));
      continue;
    }
    for (const file of await manifestFiles(path)) {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        throw new ManifestError(file, undefined, `cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
      }
      objects.push(...parseManifests(text, file));
    }
  }
  return objects;
}
