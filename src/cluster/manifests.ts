import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { LineCounter, parseAllDocuments, type Document, type Node } from 'yaml';
import { decodeAsKubectl, KubectlDecodeError, metadataRefusal } from './kubectlDecode.js';
import type { KubeObject } from '../rules/types.js';
import { groupOf } from '../rules/objectRequest.js';
import { isRecord } from '../rules/objectPaths.js';

export interface ManifestObject {
  object: KubeObject;
  file: string;
  line: number;
  /** Where in the document the object was found, when it is not the document itself (`request.object of an AdmissionReview`). */
  via?: string;
}

/** A document that was meant to be read and could not be: a result of its own in `check`'s report. */
export interface ManifestProblem {
  file: string;
  /** Undefined when the whole file could not be read. */
  line?: number;
  message: string;
  /** The file itself could not be read (missing, no permission): input `check` cannot vouch for (exit 2). */
  unreadable: boolean;
}

/** Input that holds no Kubernetes object (Chart.yaml, values.yaml, package.json, a workflow, a Helm template). */
export interface SkippedInput {
  file: string;
  line?: number;
  reason: string;
}

export interface ManifestRead {
  /** Every file read or tried, in the order read: the order of the report. */
  files: string[];
  objects: ManifestObject[];
  problems: ManifestProblem[];
  skipped: SkippedInput[];
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

function errnoText(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? String(error);
}

/** Every manifest file under `path`; the paths that cannot be read become problems. */
async function manifestFiles(path: string, problems: ManifestProblem[]): Promise<string[]> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    problems.push({ file: path, message: `cannot read: ${errnoText(error)}`, unreadable: true });
    return [];
  }
  if (!info.isDirectory()) return [path];
  let entries;
  try {
    entries = await readdir(path, { withFileTypes: true });
  } catch (error) {
    problems.push({ file: path, message: `cannot read: ${errnoText(error)}`, unreadable: true });
    return [];
  }
  const files: string[] = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) files.push(...(await manifestFiles(child, problems)));
    else if (MANIFEST_EXTENSIONS.has(extname(entry.name).toLowerCase())) files.push(child);
  }
  return files;
}

const NOT_AN_OBJECT = 'not a Kubernetes object';

/** Why a parsed document is no Kubernetes object, or undefined when it is one. */
function notAnObject(value: unknown): string | undefined {
  if (!isRecord(value)) return `${NOT_AN_OBJECT}: the document is not a mapping`;
  if (typeof value.apiVersion !== 'string' || typeof value.kind !== 'string') return `${NOT_AN_OBJECT}: a document needs string apiVersion and kind`;
  // kustomization.yaml and its Components: build input, not objects for a cluster.
  if (groupOf(value.apiVersion) === 'kustomize.config.k8s.io') return `${NOT_AN_OBJECT}: kustomize configuration (${value.kind})`;
  return undefined;
}

/**
 * An AdmissionReview given as input (a request saved from a webhook): the
 * object it asks about, `request.object`, is what gets checked.
 */
function admissionReviewObject(value: Record<string, unknown>): { object?: KubeObject; problem?: string } {
  const request = isRecord(value.request) ? value.request : undefined;
  const object = request && isRecord(request.object) ? request.object : undefined;
  if (!object) return { problem: 'an AdmissionReview without request.object (a DELETE, or a response): nothing to check' };
  if (typeof object.apiVersion !== 'string' || typeof object.kind !== 'string') return { problem: 'the request.object of this AdmissionReview needs string apiVersion and kind' };
  const meta = isRecord(object.metadata) ? object.metadata : {};
  // The API server sends the request's namespace beside an object that names none.
  const namespace = typeof meta.namespace === 'string' && meta.namespace ? undefined : typeof request?.namespace === 'string' && request.namespace ? request.namespace : undefined;
  return { object: (namespace ? { ...object, metadata: { ...meta, namespace } } : object) as KubeObject };
}

function isAdmissionReview(value: Record<string, unknown>): boolean {
  return value.kind === 'AdmissionReview' && groupOf(value.apiVersion) === 'admission.k8s.io';
}

type DocumentReader = (document: Document.Parsed, lineOf: (offset: number) => number) => { value: unknown } | { problem: string; line: number };

/** A document read as kubectl reads it (kubectlDecode.ts); its errors with their lines. */
const readDocument: DocumentReader = (document, lineOf) => {
  const error = document.errors[0];
  if (error) {
    const at = error.linePos?.[0]?.line ?? lineOf(error.pos[0]);
    return { problem: `invalid YAML: ${error.message.split('\n')[0]}`, line: at };
  }
  // kubectl splits a stream at `---` lines before parsing, so a directive
  // ends up alone in a chunk it refuses ("did not find expected <document start>").
  if (document.directives?.yaml.explicit || Object.keys(document.directives?.tags ?? {}).length > 1) {
    return { problem: 'invalid YAML: a %YAML or %TAG directive, which kubectl cannot read: remove it', line: lineOf(document.range[0]) };
  }
  try {
    return { value: decodeAsKubectl(document) };
  } catch (error) {
    const node = error instanceof KubectlDecodeError ? error.node : undefined;
    return { problem: `cannot read the document: ${(error as Error).message.split('\n')[0]}`, line: lineOf(node?.range?.[0] ?? document.range[0]) };
  }
};

/** The line of the node at `path`, when the document spells it out (not through a merge or alias). */
function lineAt(document: Document.Parsed, path: (string | number)[], lineOf: (offset: number) => number, fallback: number): number {
  const node = document.getIn(path, true) as Node | undefined;
  return node?.range ? lineOf(node.range[0]) : fallback;
}

/**
 * Reads one file's text: every YAML document (JSON is YAML too), `kind: List`
 * expanded, an AdmissionReview's `request.object` taken out. Never throws: a
 * document that cannot be read is a problem with its line, one that holds no
 * Kubernetes object is skipped, and the reading goes on with the next.
 */
export function readManifestText(text: string, file: string): ManifestRead {
  const read: ManifestRead = { files: [file], objects: [], problems: [], skipped: [] };
  const lineCounter = new LineCounter();
  const lineOf = (offset: number) => lineCounter.linePos(offset).line;
  // YAML 1.1 as kubectl reads it; a repeated key is kubectl's too (the last wins).
  const documents = parseAllDocuments(text, { lineCounter, prettyErrors: false, version: '1.1', uniqueKeys: false });
  // parseAllDocuments returns an EmptyStream for input with no documents.
  if (!Array.isArray(documents)) return read;
  for (const document of documents) {
    const outcome = readDocument(document, lineOf);
    if ('problem' in outcome) {
      read.problems.push({ file, line: outcome.line, message: outcome.problem, unreadable: false });
      continue;
    }
    const { value } = outcome;
    if (value === null || value === undefined) continue;
    const line = document.contents ? lineOf(document.contents.range[0]) : lineOf(document.range[0]);
    const reason = notAnObject(value);
    if (reason) {
      read.skipped.push({ file, line, reason });
      continue;
    }
    const object = value as Record<string, unknown> & KubeObject;
    const refusal = metadataRefusal(object);
    if (refusal) {
      read.problems.push({ file, line: lineAt(document, refusal.path, lineOf, line), message: refusal.message, unreadable: false });
      continue;
    }
    if (isAdmissionReview(object)) {
      const review = admissionReviewObject(object);
      if (review.object) read.objects.push({ object: review.object, file, line, via: 'request.object of an AdmissionReview' });
      else read.problems.push({ file, line, message: review.problem!, unreadable: false });
      continue;
    }
    if (object.kind === 'List' || (object.kind!.endsWith('List') && Array.isArray(object.items))) {
      for (const item of Array.isArray(object.items) ? object.items : []) {
        const itemRefusal = notAnObject(item) ? { message: `${NOT_AN_OBJECT}: a List item needs string apiVersion and kind` } : metadataRefusal(item as Record<string, unknown>);
        if (itemRefusal) read.problems.push({ file, line, message: itemRefusal.message, unreadable: false });
        else read.objects.push({ object: item as KubeObject, file, line });
      }
      continue;
    }
    read.objects.push({ object, file, line });
  }
  // A Helm chart's templates are not YAML until rendered: a file with `{{`
  // that does not read as plain objects is skipped whole, not reported.
  if ((read.problems.length > 0 || read.skipped.length > 0) && text.includes('{{')) {
    return { files: [file], objects: [], problems: [], skipped: [{ file, reason: `${NOT_AN_OBJECT}: a template ({{ … }}); render it first (helm template)` }] };
  }
  return read;
}

/** Strict reading for `serve --manifests`: the first document that is not a Kubernetes object is an error. */
function strict(read: ManifestRead): ManifestObject[] {
  const problem = read.problems[0];
  if (problem) throw new ManifestError(problem.file, problem.line, problem.message);
  const skipped = read.skipped[0];
  if (skipped) throw new ManifestError(skipped.file, skipped.line, skipped.reason);
  return read.objects;
}

/** Parses one file's text strictly: a document that cannot be read, or is not a Kubernetes object, throws with its file and line. */
export function parseManifests(text: string, file: string): ManifestObject[] {
  return strict(readManifestText(text, file));
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
 * Goes on past every problem, which it returns beside the objects.
 */
export async function readManifests(paths: readonly string[], stdin: NodeJS.ReadableStream = process.stdin): Promise<ManifestRead> {
  if (paths.filter((path) => path === '-').length > 1) throw new ManifestError(STDIN_NAME, undefined, '- (stdin) can be named only once');
  const all: ManifestRead = { files: [], objects: [], problems: [], skipped: [] };
  const add = (read: ManifestRead) => {
    all.files.push(...read.files);
    all.objects.push(...read.objects);
    all.problems.push(...read.problems);
    all.skipped.push(...read.skipped);
  };
  for (const path of paths) {
    if (path === '-') {
      add(readManifestText(await readStdin(stdin), STDIN_NAME));
      continue;
    }
    const before = all.problems.length;
    const files = await manifestFiles(path, all.problems);
    for (const problem of all.problems.slice(before)) all.files.push(problem.file);
    for (const file of files) {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        all.files.push(file);
        all.problems.push({ file, message: `cannot read: ${errnoText(error)}`, unreadable: true });
        continue;
      }
      add(readManifestText(text, file));
    }
  }
  return all;
}

/** Reads as readManifests does, strictly: the first problem or non-object throws (the view `serve --manifests` starts from). */
export async function loadManifests(paths: readonly string[], stdin: NodeJS.ReadableStream = process.stdin): Promise<ManifestObject[]> {
  return strict(await readManifests(paths, stdin));
}
