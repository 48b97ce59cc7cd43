#!/usr/bin/env node
// Runs the Dockerfile's build steps as plain commands, for CI without a Docker
// engine: the `build` stage's WORKDIR, ENV, COPY and RUN lines are replayed in
// a temporary folder (COPY from a copy of the build context, filtered by
// .dockerignore), then the runtime stage's COPY --from=build lines assemble
// the image's /app, and its ENTRYPOINT is run with --help. Also checks what
// the image promises: a pinned Node 24 base, a non-root USER, no RUN (no shell)
// in the runtime stage, an exec-form ENTRYPOINT, no dev or optional
// dependencies left.
//
//   node scripts/dockerfile-steps.mjs [--keep]      (npm run image:check)
//
// Needs Node 24 first on PATH (npm scripts have it) and the npm registry.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const keep = process.argv.includes('--keep');
const log = (m) => process.stdout.write(`[dockerfile-steps] ${m}\n`);
const problems = [];
const check = (ok, message) => {
  if (!ok) problems.push(message);
};

/** Instructions of a Dockerfile: continuation lines joined, comments dropped. */
export function parseDockerfile(text) {
  const out = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (!current && /^\s*#/.test(line)) continue;
    if (/\\\s*$/.test(line)) {
      current += line.replace(/\\\s*$/, ' ');
      continue;
    }
    current += line;
    const trimmed = current.trim();
    current = '';
    if (!trimmed) continue;
    const m = /^(\w+)\s+([\s\S]*)$/.exec(trimmed);
    if (m) out.push({ op: m[1].toUpperCase(), args: m[2].trim() });
  }
  return out;
}

/** ${VAR} and $VAR from the ARG defaults. */
function expand(value, vars) {
  return value.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a, b) => vars[a ?? b] ?? '');
}

/** Splits `--flag=x a b c` into flags and words; JSON arrays are parsed. */
function words(args) {
  if (args.startsWith('[')) return { flags: {}, list: JSON.parse(args) };
  const flags = {};
  const list = [];
  for (const w of args.split(/\s+/)) {
    const m = /^--([\w-]+)=(.*)$/.exec(w);
    if (m) flags[m[1]] = m[2];
    else list.push(w);
  }
  return { flags, list };
}

/** KEY=value pairs of an ENV line (the `ENV KEY value` form too). */
function envPairs(args) {
  if (!args.includes('=')) {
    const [k, ...rest] = args.split(/\s+/);
    return { [k]: rest.join(' ') };
  }
  const pairs = {};
  for (const m of args.matchAll(/(\w+)=("([^"]*)"|\S*)/g)) pairs[m[1]] = m[3] ?? m[2];
  return pairs;
}

/** The build context as Docker sees it: .dockerignore patterns (with `!` exceptions) applied to top-level entries. */
function contextAllows(ignoreText) {
  const rules = ignoreText
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => ({ negate: l.startsWith('!'), pattern: l.replace(/^!/, '').replace(/\/$/, '') }));
  const toRegex = (p) => new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*\*/g, '\u0000').replace(/\*/g, '[^/]*').replace(/\u0000/g, '.*').replace(/\?/g, '[^/]')}(/.*)?$`);
  return (path) => {
    let allowed = true;
    for (const rule of rules) if (toRegex(rule.pattern).test(path)) allowed = rule.negate;
    return allowed;
  };
}

function run(cmd, cwd, env) {
  log(`RUN ${cmd}`);
  const started = Date.now();
  const res = spawnSync('bash', ['-euo', 'pipefail', '-c', cmd], { cwd, env, stdio: 'inherit' });
  if (res.status !== 0) throw new Error(`RUN ${cmd} failed (exit ${res.status ?? res.signal})`);
  log(`  done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

function main() {
  const instructions = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
  const allowed = contextAllows(existsSync(join(ROOT, '.dockerignore')) ? readFileSync(join(ROOT, '.dockerignore'), 'utf8') : '');

  // Stages, and the ARG defaults before the first FROM.
  const vars = {};
  const stages = [];
  for (const ins of instructions) {
    if (ins.op === 'ARG' && stages.length === 0) {
      const [k, v = ''] = ins.args.split('=');
      vars[k] = expand(v, vars);
    } else if (ins.op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      stages.push({ image: expand(m[1], vars), name: m[2] ?? String(stages.length), steps: [] });
    } else if (stages.length > 0) {
      stages.at(-1).steps.push(ins);
    }
  }
  check(stages.length >= 2, 'the Dockerfile must be multi-stage');
  const build = stages.find((s) => s.name === 'build');
  const runtime = stages.at(-1);
  if (!build || !runtime || build === runtime) throw new Error('need a stage named build and a final runtime stage');
  check(/^node:24\.\d+\.\d+-/.test(build.image), `the build base must pin an exact Node 24 release (node:24.x.y-…), got ${build.image}`);
  check(!/:latest\b/.test(runtime.image) && /:[\w.-]+/.test(runtime.image), `the runtime base must be pinned by tag or digest, got ${runtime.image}`);
  check(!runtime.steps.some((s) => s.op === 'RUN'), 'the runtime stage must not RUN anything (no shell in the image)');
  const user = runtime.steps.filter((s) => s.op === 'USER').at(-1)?.args;
  check(user !== undefined && /^[1-9]\d*(:[1-9]\d*)?$/.test(user), `the runtime stage must end as a numeric non-root USER, got ${user}`);
  const entrypoint = runtime.steps.filter((s) => s.op === 'ENTRYPOINT').at(-1)?.args;
  check(entrypoint?.startsWith('['), 'ENTRYPOINT must be in exec form (no shell)');
  const nodeMajor = Number(process.versions.node.split('.')[0]);
  if (nodeMajor !== 24) throw new Error(`run this with Node 24 first on PATH (npm run image:check), not ${process.version}`);
  if (vars.NODE_VERSION && vars.NODE_VERSION !== process.versions.node) {
    log(`note: the Dockerfile pins Node ${vars.NODE_VERSION}; replaying with ${process.versions.node}`);
  }

  const work = mkdtempSync(join(tmpdir(), 'kga-dockerfile-'));
  const fs = join(work, 'build-root'); // the build stage's file system (only the WORKDIR part is real)
  const out = join(work, 'runtime-root');
  const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` };
  delete env.npm_config_prefix;
  try {
    let workdir = '/';
    const hostPath = (p) => join(fs, posix.resolve(workdir, p));
    for (const step of build.steps) {
      if (step.op === 'WORKDIR') {
        workdir = posix.resolve(workdir, expand(step.args, vars));
        mkdirSync(hostPath('.'), { recursive: true });
      } else if (step.op === 'ENV') {
        Object.assign(env, envPairs(expand(step.args, vars)));
      } else if (step.op === 'ARG') {
        const [k, v = ''] = step.args.split('=');
        vars[k] = vars[k] ?? expand(v, vars);
      } else if (step.op === 'COPY') {
        const { flags, list } = words(step.args);
        if (flags.from) throw new Error(`COPY --from in the build stage is not replayed: ${step.args}`);
        const dest = list.at(-1);
        const sources = list.slice(0, -1);
        for (const src of sources) {
          check(allowed(src), `COPY ${src}: excluded by .dockerignore, the image build would not see it`);
          const from = join(ROOT, src);
          const target = dest.endsWith('/') || sources.length > 1 ? join(hostPath(dest), basename(src)) : hostPath(dest);
          if (statSync(from).isDirectory()) cpSync(from, target, { recursive: true, filter: (p) => allowed(p.slice(ROOT.length + 1)) });
          else {
            mkdirSync(dirname(target), { recursive: true });
            cpSync(from, target);
          }
        }
        log(`COPY ${sources.join(' ')} -> ${dest}`);
      } else if (step.op === 'RUN') {
        const cmd = expand(step.args.replace(/--mount=\S+\s*/g, ''), { ...vars, ...env });
        run(cmd, hostPath('.'), env);
      } else if (!['LABEL', 'EXPOSE', 'USER', 'SHELL'].includes(step.op)) {
        throw new Error(`${step.op} in the build stage is not replayed; extend scripts/dockerfile-steps.mjs`);
      }
    }

    // The runtime stage's COPY --from=build: paths under the build WORKDIR are
    // ours; /usr/local/bin/node is the base image's Node (here: this one).
    const buildRoot = workdir;
    let runtimeWorkdir = '/';
    const pathMap = {};
    for (const step of runtime.steps) {
      if (step.op === 'WORKDIR') runtimeWorkdir = posix.resolve(runtimeWorkdir, step.args);
      if (step.op !== 'COPY') continue;
      const { flags, list } = words(step.args);
      check(flags.from === 'build', `runtime COPY must come from the build stage: ${step.args}`);
      const [src, dest] = [list[0], posix.resolve(runtimeWorkdir, list.at(-1))];
      if (src.startsWith(`${buildRoot}/`)) {
        const target = join(out, dest);
        mkdirSync(dirname(target), { recursive: true });
        cpSync(join(fs, src), target, { recursive: true });
        log(`COPY --from=build ${src} -> ${dest}`);
      } else {
        check(/\/bin\/node$/.test(src), `runtime COPY of ${src} from the base image: only the node binary is expected`);
        pathMap[dest] = process.execPath;
      }
    }
    const nodeModules = join(out, 'app', 'node_modules');
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    // npm's record of the pruned tree: nothing only dev or only optional may be left.
    const installed = JSON.parse(readFileSync(join(nodeModules, '.package-lock.json'), 'utf8')).packages ?? {};
    for (const [path, meta] of Object.entries(installed)) {
      check(!meta.dev && !meta.optional && !meta.devOptional, `${path} (${meta.dev ? 'dev' : 'optional'}) is in the image`);
    }
    for (const tool of ['typescript', 'vitest']) check(!existsSync(join(nodeModules, tool)), `${tool} is in the image`);
    for (const opt of Object.keys(pkg.optionalDependencies ?? {})) check(!existsSync(join(nodeModules, opt)), `optional dependency ${opt} is in the image`);
    for (const dep of Object.keys(pkg.dependencies ?? {})) check(existsSync(join(nodeModules, dep)), `dependency ${dep} is missing from the image`);
    check(existsSync(join(out, 'app', 'dist', 'cli', 'main.js')), 'dist/cli/main.js is missing from the image');

    // ENTRYPOINT with --help, paths mapped into the assembled folder.
    const argv = JSON.parse(entrypoint ?? '[]').map((a) => pathMap[a] ?? (a.startsWith('/app/') ? join(out, a) : a));
    log(`ENTRYPOINT ${argv.join(' ')} --help`);
    const res = spawnSync(argv[0], [...argv.slice(1), '--help'], { cwd: join(out, 'app'), encoding: 'utf8', env: { PATH: '/nonexistent', NODE_ENV: 'production' } });
    check(res.status === 0 && res.stdout.includes('kgateway-admission serve'), `the image's entrypoint --help failed (exit ${res.status}): ${res.stderr || res.stdout}`.slice(0, 800));
    const size = (dir) => readdirSync(dir, { withFileTypes: true }).reduce((n, e) => n + (e.isDirectory() ? size(join(dir, e.name)) : statSync(join(dir, e.name)).size), 0);
    log(`image /app: ${(size(join(out, 'app')) / 1e6).toFixed(1)} MB (node_modules ${(size(nodeModules) / 1e6).toFixed(1)} MB)`);
  } finally {
    if (keep) log(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
  if (problems.length > 0) {
    for (const p of problems) process.stderr.write(`[dockerfile-steps] FAIL: ${p}\n`);
    process.exit(1);
  }
  log('OK: the Dockerfile build steps succeed as plain commands and the result runs');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (error) {
    process.stderr.write(`[dockerfile-steps] FAIL: ${error.message}\n`);
    process.exit(1);
  }
}
