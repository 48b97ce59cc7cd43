// What a user reads to install: the README's and the chart README's install
// sections are commands against a registry a release pushes to (no `docker
// build` with nowhere to push, the old path to an ImagePullBackOff under a
// `Fail` webhook), kind users get their `kind load` line, and the project's
// internal vocabulary stays out of what users read.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { REPO } from '../../support/cli.js';

const read = (path: string) => readFile(join(REPO, path), 'utf8');
const { version } = JSON.parse(await read('package.json')) as { version: string };
const values = parseYaml(await read('charts/kgateway-admission/values.yaml')) as { image: { repository: string } };
// The registry of a release: REGISTRY in the release workflow is ghcr.io/<owner>; the docs use a placeholder owner.
const OWNER_REGISTRY = 'ghcr.io/kgateway-admission';

/** The text of a `## title` section, up to the next `## `. */
function section(markdown: string, title: string): string {
  const start = markdown.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`no section "## ${title}"`);
  const end = markdown.indexOf('\n## ', start + 1);
  return markdown.slice(start, end < 0 ? undefined : end);
}

/** Commands of the ```sh blocks, continuation lines joined. */
function shellCommands(markdown: string): string[] {
  return [...markdown.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) =>
    m[1]!.replace(/\\\n\s*/g, '').split('\n').map((l) => l.replace(/\s+#.*$/, '').trim()).filter((l) => l && !l.startsWith('#')),
  );
}

describe.each([
  ['README.md', 'Install with Helm'],
  ['charts/kgateway-admission/README.md', undefined],
])('the install section of %s', (file, title) => {
  it('installs the chart from the registry a release pushes to, at the package version', async () => {
    const text = await read(file);
    const commands = shellCommands(title ? section(text, title) : text.slice(0, text.indexOf('\n## ')));
    expect(commands[0]).toMatch(new RegExp(`^helm install kgateway-admission oci://${OWNER_REGISTRY}/charts/kgateway-admission --version ${version.replaceAll('.', '\\.')} `));
    expect(commands.filter((c) => c.startsWith('docker build'))).toEqual([]);
  });

  it('gives kind users the line that loads a locally built image, and the values that use it', async () => {
    const text = await read(file);
    const commands = shellCommands(title ? section(text, title) : text);
    expect(commands).toContainEqual(expect.stringMatching(new RegExp(`^kind load docker-image kgateway-admission:${version.replaceAll('.', '\\.')}\\b`)));
    expect(commands).toContainEqual(expect.stringMatching(/^helm install kgateway-admission charts\/kgateway-admission .*--set image\.repository=kgateway-admission --set image\.pullPolicy=Never$/));
  });
});

describe('the registry a release pushes to', () => {
  it("is the chart's default image.repository, documented in the chart README's values table", async () => {
    expect(values.image.repository).toBe(`${OWNER_REGISTRY}/kgateway-admission`);
    expect(await read('charts/kgateway-admission/README.md')).toContain(`| \`image.repository\` | \`${OWNER_REGISTRY}/kgateway-admission\` |`);
  });

  it('the README says how to get the CLI from a registry: npm install -g, or a release binary (docs/cli.md)', async () => {
    expect(shellCommands(await read('docs/cli.md'))).toContain('npm install -g kgateway-admission');
    expect(section(await read('README.md'), 'Install with Helm')).toContain('`npm install -g kgateway-admission`');
  });
});

describe("the project's internal word", () => {
  it('"brief" is not in the README, docs, bench README, chart README or examples', async () => {
    const files = ['README.md', 'bench/README.md', 'charts/kgateway-admission/README.md'];
    for (const dir of ['docs', 'examples']) {
      for (const entry of await readdir(join(REPO, dir), { recursive: true, withFileTypes: true })) {
        if (entry.isFile()) files.push(join(entry.parentPath.slice(REPO.length), entry.name));
      }
    }
    expect(files.length).toBeGreaterThan(10);
    const found: string[] = [];
    for (const file of files) {
      const lines = (await read(file)).split('\n');
      lines.forEach((line, i) => /\bbrief/i.test(line) && found.push(`${file}:${i + 1}: ${line.trim()}`));
    }
    expect(found).toEqual([]);
  });
});
