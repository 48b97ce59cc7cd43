import { countLevels, subjectTitle, type Report } from './report.js';

// Escapes as the runner unescapes (actions/runner src/Runner.Common/ActionCommand.cs,
// TryParseV2): `%` first, so an escape is never escaped twice.
function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** Property values also end at `,` (the next property) and `::` (the data). */
function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}


/**
 * GitHub Actions workflow commands: `::error file=F,line=L,title=T::message`
 * per denial and `::warning` per warning, so each shows as an annotation on
 * the pull request's lines. A closing plain line counts.
 */
export function formatGithubCommands(report: Report): string {
  const lines: string[] = [];
  for (const subject of report.subjects) {
    for (const finding of subject.findings) {
      const properties = [
        ...(subject.file !== undefined ? [`file=${escapeProperty(subject.file)}`] : []),
        ...(subject.line !== undefined ? [`line=${subject.line}`] : []),
        `title=${escapeProperty(`${finding.rule}: ${subjectTitle(subject)}`)}`,
      ];
      lines.push(`::${finding.level} ${properties.join(',')}::${escapeData(finding.message)}`);
    }
  }
  const counts = countLevels(report);
  const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;
  lines.push(`kgateway-admission ${report.command}: ${plural(report.subjects.length, 'object')}, ${plural(counts.error, 'error')}, ${plural(counts.warning, 'warning')}`);
  return lines.join('\n');
}
