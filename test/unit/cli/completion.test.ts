import { spawnSync } from 'node:child_process';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../../src/cli/completion.js';
import { CLI, runCli } from '../../support/cli.js';
import { requireDebianTool } from '../../support/debianTools.js';

const noZsh = requireDebianTool('zsh', 'zsh');

let dir: string;
let bashScript: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kga-completion-'));
  await mkdir(join(dir, 'manifests'));
  await writeFile(join(dir, 'manifests/gateway.yaml'), '');
  // Printed once and sourced by every case: one CLI start per case made the
  // first case exceed its timeout on a loaded machine.
  const { code, stdout, stderr } = await runCli(['completion', 'bash']);
  expect(code, stderr).toBe(0);
  bashScript = join(dir, 'completion.bash');
  await writeFile(bashScript, stdout);
});

/** Sources the script in bash as a user's shell would, then asks the registered function for the words' completions. */
function bashComplete(words: string[]): string[] {
  const script = `
    source "$SCRIPT" || exit 3
    spec=$(complete -p kgateway-admission) || exit 4
    fn=\${spec##*-F }; fn=\${fn%% *}
    COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 ))
    COMP_LINE="\${COMP_WORDS[*]}"; COMP_POINT=\${#COMP_LINE}
    "$fn" kgateway-admission "\${COMP_WORDS[COMP_CWORD]}" "\${COMP_WORDS[COMP_CWORD-1]}"
    printf '%s\\n' "\${COMPREPLY[@]}"`;
  const result = spawnSync('bash', ['-c', script], { cwd: dir, env: { PATH: process.env.PATH, SCRIPT: bashScript }, encoding: 'utf8' });
  expect(result.status, result.stderr).toBe(0);
  return result.stdout.split('\n').filter(Boolean).sort();
}

describe('kgateway-admission completion', () => {
  it('bash: completes commands, options, their values and files', () => {
    expect(bashComplete(['kgateway-admission', 'ch'])).toEqual(['check']);
    expect(bashComplete(['kgateway-admission', 'c'])).toEqual(['certs', 'check', 'completion']);
    expect(bashComplete(['kgateway-admission', 'check', '--o'])).toEqual(['--output', '--output-file']);
    expect(bashComplete(['kgateway-admission', 'check', '--output', 's'])).toEqual(['sarif']);
    expect(bashComplete(['kgateway-admission', 'audit', '-o', 'j'])).toEqual(['json', 'junit']);
    expect(bashComplete(['kgateway-admission', 'audit', '--profile', ''])).toEqual(['agentgateway-v1', 'agentgateway-v2.2', 'kgateway-v2.1', 'kgateway-v2.3', 'kgateway-v2.4']);
    expect(bashComplete(['kgateway-admission', 'check', 'manifests/g'])).toEqual(['manifests/gateway.yaml']);
    expect(bashComplete(['kgateway-admission', 'completion', ''])).toEqual(['bash', 'zsh']);
  });

  it('knows every option each command documents in its --help, and no other', async () => {
    for (const [command, spec] of Object.entries(COMMANDS)) {
      const { stdout } = await runCli([command, '--help']);
      const documented = new Set([...stdout.matchAll(/--([a-z][a-z-]*)/g)].map((m) => m[1]));
      documented.add('help');
      expect(new Set(Object.keys(spec.options)), command).toEqual(documented);
    }
  });

  it('zsh: a #compdef script that defines its function', async () => {
    const { code, stdout } = await runCli(['completion', 'zsh']);
    expect(code).toBe(0);
    expect(stdout.split('\n')[0]).toBe('#compdef kgateway-admission');
    expect(stdout).toContain("'--output[output]:value:(text json yaml junit sarif github policyreport)'");
  });

  it.skipIf(noZsh)('zsh: compinit registers it for kgateway-admission', () => {
    const script = 'autoload -U compinit && compinit -u -d "$PWD/.zcompdump" && source <("$CLI" completion zsh) && print -r -- "${_comps[kgateway-admission]}"';
    const result = spawnSync('zsh', ['-f', '-c', script], { cwd: dir, env: { PATH: process.env.PATH, CLI, HOME: dir }, encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe('_kgateway_admission');
  });

  it('exits 2 on a shell it does not know', async () => {
    const { code, stderr } = await runCli(['completion', 'fish']);
    expect(code).toBe(2);
    expect(stderr).toContain('completion: name one shell, bash or zsh');
  });
});
