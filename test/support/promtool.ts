// promtool, the oracle of the chart's alert rules. Built from the Prometheus Go
// module by scripts/promtool.sh (14-35 minutes on a small machine), so CI does
// not build it: each verdict promtool gave is recorded in
// test/fixtures/promtool/verdicts.json under the hash of what it read, and a
// run without the binary answers from the record. A change to the rules or to
// their tests has no record, and fails until `npm run promtool:record` runs
// promtool on it and records the verdict.
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../harness/index.ts';

const execFileP = promisify(execFile);
const SCRIPT = join(REPO_ROOT, 'scripts', 'promtool.sh');
export const PROMTOOL_VERDICTS = join(REPO_ROOT, 'test', 'fixtures', 'promtool', 'verdicts.json');
const RECORDING = process.env.KGA_RECORD_PROMTOOL === '1';

interface Verdict {
  args: string[];
  code: number;
  output: string;
}
interface VerdictFile {
  promtool: string;
  verdicts: Record<string, Verdict>;
}

export type Promtool = { path: string; skip?: undefined } | { path?: undefined; skip?: undefined; recorded: true } | { path?: undefined; skip: string };

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function promtoolVersion(): string {
  const match = /^PROMETHEUS_VERSION="([^"]+)"/m.exec(readFileSync(SCRIPT, 'utf8'));
  if (!match) throw new Error(`${SCRIPT} names no PROMETHEUS_VERSION`);
  return match[1]!;
}

/**
 * The promtool binary when it is built; else, in CI, the recorded verdicts;
 * else (a user's machine) it is built, or the checks skip loudly.
 */
export async function requirePromtool(): Promise<Promtool> {
  const path = (await execFileP('bash', [SCRIPT, 'path'])).stdout.trim();
  if (executable(path)) return { path };
  if (process.env.CI === 'true' && !RECORDING) return { recorded: true };
  process.stderr.write(`[promtool] ${path} missing: running bash scripts/promtool.sh build\n`);
  const code = await new Promise<number>((resolve) => {
    const child = spawn('bash', [SCRIPT, 'build'], { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', () => resolve(-1));
    child.on('exit', (c) => resolve(c ?? -1));
  });
  if (code === 0 && executable(path)) return { path };
  const reason = `promtool could not be built (bash scripts/promtool.sh build exited ${code}; it needs Go and the Go module proxy)`;
  if (RECORDING) throw new Error(`${reason}: nothing to record`);
  process.stderr.write(`\n!!! SKIPPING promtool checks of the alert rules: ${reason} !!!\n\n`);
  return { skip: reason };
}

/** The key of a verdict: promtool's version, its arguments with files by name, and the files it reads. */
export function verdictKey(version: string, args: string[], inputs: { name: string; content: string }[]): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ version, args, inputs: [...inputs].sort((a, b) => a.name.localeCompare(b.name)) }));
  return hash.digest('hex');
}

async function runBinary(promtool: string, args: string[], cwd: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await execFileP(promtool, args, { cwd, timeout: 120_000, maxBuffer: 8 << 20 });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string; message: string };
    return { code: typeof e.code === 'number' ? e.code : 1, output: (e.stdout ?? '') + (e.stderr ?? e.message) };
  }
}

async function readVerdicts(): Promise<VerdictFile> {
  try {
    return JSON.parse(await readFile(PROMTOOL_VERDICTS, 'utf8')) as VerdictFile;
  } catch {
    return { promtool: promtoolVersion(), verdicts: {} };
  }
}

/**
 * promtool's verdict on `args`, run in `dir` where it reads `inputs` (file
 * names in `dir`). With the binary it runs, and the verdict must be on record
 * (KGA_RECORD_PROMTOOL=1 records it); without it, the record answers.
 */
export async function runPromtool(promtool: Promtool, args: string[], dir: string, inputs: string[]): Promise<{ code: number; output: string }> {
  if (promtool.skip) throw new Error(`promtool is skipped: ${promtool.skip}`);
  const version = promtoolVersion();
  const files = await Promise.all(inputs.map(async (name) => ({ name: basename(name), content: await readFile(join(dir, name), 'utf8') })));
  const key = verdictKey(version, args, files);
  const record = await readVerdicts();
  if (promtool.path) {
    const verdict = await runBinary(promtool.path, args, dir);
    if (RECORDING) {
      record.promtool = version;
      record.verdicts[key] = { args, ...verdict };
      await writeFile(PROMTOOL_VERDICTS, `${JSON.stringify(record, null, 2)}\n`);
    } else if (!record.verdicts[key]) {
      throw new Error(`promtool ${args.join(' ')} has no recorded verdict for these rules: run \`npm run promtool:record\` and commit ${PROMTOOL_VERDICTS.slice(REPO_ROOT.length + 1)}\n${verdict.output}`);
    }
    return verdict;
  }
  const recorded = record.promtool === version ? record.verdicts[key] : undefined;
  if (!recorded) {
    throw new Error(
      `promtool ${args.join(' ')}: no verdict of promtool ${version} is recorded for these rules and tests (they changed since the last record). ` +
        `Run \`npm run promtool:record\` (builds promtool ${version} from its Go module) and commit ${PROMTOOL_VERDICTS.slice(REPO_ROOT.length + 1)}.`,
    );
  }
  return { code: recorded.code, output: recorded.output };
}
