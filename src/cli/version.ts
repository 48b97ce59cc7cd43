import { readFile } from 'node:fs/promises';

/** The version in the package.json shipped beside dist/ (in the repo, the npm package and the image). */
export async function packageVersion(): Promise<string> {
  const text = await readFile(new URL('../../package.json', import.meta.url), 'utf8');
  const version: unknown = (JSON.parse(text) as { version?: unknown }).version;
  if (typeof version !== 'string') throw new Error('package.json has no version');
  return version;
}
