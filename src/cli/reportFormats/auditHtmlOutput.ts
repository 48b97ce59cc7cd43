import { writeFile } from 'node:fs/promises';
import { formatFindingsHtml, type HtmlReportInput } from './auditHtml.js';
import { CommandError } from '../usage.js';

/**
 * The page on stdout, or, with --output-file, in the file and the text
 * report on stdout (as every other format does, output.ts).
 */
export async function writeHtmlReport(input: HtmlReportInput, file: string | undefined, out: (text: string) => void, text: () => string): Promise<void> {
  const html = formatFindingsHtml(input);
  if (file === undefined) {
    out(html);
    return;
  }
  try {
    await writeFile(file, html);
  } catch (error) {
    throw new CommandError(`cannot write --output-file ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  out(text());
}
