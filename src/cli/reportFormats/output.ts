import { writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import { CommandError, UsageError } from '../usage.js';
import { formatGithubCommands } from './githubCommands.js';
import { formatJunit } from './junit.js';
import type { Report } from './report.js';
import { formatSarif } from './sarif.js';

export const OUTPUT_FORMATS = ['text', 'json', 'yaml', 'junit', 'sarif', 'github'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export const OUTPUT_USAGE = `--output: text (default), json, yaml, junit (JUnit XML), sarif (SARIF 2.1.0)
or github (workflow commands: annotations on a pull request).
--output-file FILE: the report goes to FILE, and the text report to stdout.`;

/** The command-line options every reporting command takes. */
export const OUTPUT_OPTIONS = {
  output: { type: 'string', short: 'o', default: 'text' },
  'output-file': { type: 'string' },
} as const;

export function outputFormat(command: string, value: string | undefined): OutputFormat {
  const format = value ?? 'text';
  if (!(OUTPUT_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`${command}: --output must be one of ${OUTPUT_FORMATS.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return format as OutputFormat;
}

/** How a command renders itself: its own text and JSON payload, and the neutral report. */
export interface Renderings {
  text(): string;
  /** The JSON (and YAML) document: the command's own shape. */
  data(): unknown;
  report(): Promise<Report>;
}

export async function render(format: OutputFormat, renderings: Renderings): Promise<string> {
  switch (format) {
    case 'text':
      return renderings.text();
    case 'json':
      return JSON.stringify(renderings.data(), null, 2);
    case 'yaml':
      return stringify(renderings.data()).trimEnd();
    case 'junit':
      return formatJunit(await renderings.report());
    case 'sarif':
      return formatSarif(await renderings.report());
    case 'github':
      return formatGithubCommands(await renderings.report());
  }
}

/**
 * Only the report on stdout (kyverno#14633), or, with --output-file, the
 * report in the file and the text report on stdout for the CI log.
 */
export async function writeReport(format: OutputFormat, file: string | undefined, renderings: Renderings, out: (text: string) => void): Promise<void> {
  const content = await render(format, renderings);
  if (file === undefined) {
    out(content);
    return;
  }
  try {
    await writeFile(file, `${content}\n`);
  } catch (error) {
    throw new CommandError(`cannot write --output-file ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  out(renderings.text());
}
