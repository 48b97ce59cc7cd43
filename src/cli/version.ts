import { readFile } from 'node:fs/promises';

// Defined by the single-executable build (scripts/sea.mjs), whose bundle has no
// package.json beside it; undeclared everywhere else.
declare const KGA_BUNDLED_VERSION: string | undefined;

/** The version in the package.json shipped beside dist/ (in the repo, the npm package and the image). */
export async function packageVersion(): Promise<string> {
  if (typeof KGA_BUNDLED_VERSION === 'string') return KGA_BUNDLED_VERSION;
  const text = await readFile(new URL('../../package.json', import.meta.url), 'utf8');
  const version: unknown = (JSON.parse(text) as { version?: unknown }).version;
  if (typeof version !== 'string') throw new Error('package.json has no version');
  return version;
}
