// Every relative link in the repository's Markdown (README.md, docs/, bench/,
// the chart's README) names a file that exists, and an anchor names a heading
// of that file: facts moved between README.md and docs/ must stay reachable.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = join(import.meta.dirname, '../..');
const SKIP = new Set(['node_modules', '.git', 'dist', '.cluster', '.image', 'coverage']);

function markdownFiles(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...markdownFiles(path));
    else if (entry.name.endsWith('.md')) files.push(path);
  }
  return files;
}

/** Markdown without fenced code blocks, where a `# x` is no heading. */
function withoutFences(text: string): string {
  return text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
}

/** ... and without inline code, where a `[x](y)` is no link. */
function prose(text: string): string {
  return withoutFences(text).replace(/`[^`\n]*`/g, '');
}

/** GitHub's heading anchors (github-slugger): lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const [, heading] of withoutFences(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const text = heading!.replace(/`/g, '').replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const slug = text.toLowerCase().replace(/[^\p{L}\p{N}\p{M}\p{Pc}\- ]/gu, '').replace(/ /g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

function brokenLinks(file: string, text = readFileSync(file, 'utf8')): string[] {
  const broken: string[] = [];
  for (const [, target] of prose(text).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target!)) continue; // https:, mailto:
    const [path, anchor] = target!.split('#') as [string, string | undefined];
    const resolved = path === '' ? file : join(dirname(file), decodeURI(path));
    if (!existsSync(resolved)) {
      broken.push(`${target}: no such file`);
      continue;
    }
    if (anchor !== undefined && !statSync(resolved).isDirectory() && resolved.endsWith('.md') && !anchorsOf(readFileSync(resolved, 'utf8')).has(anchor)) {
      broken.push(`${target}: no such heading`);
    }
  }
  return broken;
}

describe('Markdown links', () => {
  it('the slugs follow GitHub: punctuation dropped, spaces to hyphens, repeats numbered', () => {
    expect([...anchorsOf('# Try it on a real cluster\n## The image: `npm run image:build`\n## Logs\n## Logs\n```\n# not a heading\n```\n')]).toEqual([
      'try-it-on-a-real-cluster',
      'the-image-npm-run-imagebuild',
      'logs',
      'logs-1',
    ]);
  });

  it('a link to a missing file or heading is found; code, absolute URLs and good links are not', () => {
    const text = [
      '[gone](docs/no-such-file.md) and [moved](README.md#no-such-heading)',
      '[fine](README.md#the-two-commands), [dir](docs/), [web](https://example.org/x#y), `[code](nowhere.md)`',
      '```',
      '[in a fence](nowhere.md)',
      '```',
    ].join('\n');
    expect(brokenLinks(join(REPO, 'README.md'), text)).toEqual(['docs/no-such-file.md: no such file', 'README.md#no-such-heading: no such heading']);
  });

  const files = markdownFiles(REPO);
  it('finds the README, docs/ and bench/README.md', () => {
    const names = files.map((f) => relative(REPO, f));
    expect(names).toEqual(expect.arrayContaining(['README.md', 'bench/README.md', 'docs/architecture.md']));
  });

  for (const file of files) {
    it(`${relative(REPO, file)}: every relative link and anchor resolves`, () => {
      expect(brokenLinks(file)).toEqual([]);
    });
  }
});
