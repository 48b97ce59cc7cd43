// The container image without a Docker engine: scripts/dockerfile-steps.mjs
// replays the Dockerfile's build stage (npm ci, build, prune) as plain
// commands in a temporary copy, assembles the runtime stage's files and runs
// its ENTRYPOINT with --help; it also checks the pinned Node 24 base, the
// non-root USER, and that the runtime stage runs no shell.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/controlPlane.js';

describe('Dockerfile', () => {
  it('its build steps succeed as plain commands and the result runs as the image would', async () => {
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn(process.execPath, [join(REPO_ROOT, 'scripts', 'dockerfile-steps.mjs')], {
        cwd: REPO_ROOT,
        env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (c) => (output += c));
      child.stderr.on('data', (c) => (output += c));
      child.on('close', (code) => resolve({ code, output }));
    });
    expect(code, output).toBe(0);
    expect(output).toContain('OK: the Dockerfile build steps succeed as plain commands and the result runs');
  }, 600_000);
});
