import { subjectTitle, type Report, type ReportSubject } from './report.js';

// Characters XML 1.0 cannot carry at all, even escaped (XML 1.0 §2.2 Char).
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

function escapeXml(text: string): string {
  return text
    .replace(NOT_XML_CHAR, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/\r/g, '&#13;')
    .replace(/\n/g, '&#10;')
    .replace(/\t/g, '&#9;');
}

/** Element text keeps its line breaks (only attribute values need them as references). */
function escapeText(text: string): string {
  return text.replace(NOT_XML_CHAR, '\uFFFD').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function attributes(values: Record<string, string | number | undefined>): string {
  return Object.entries(values)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => ` ${key}="${escapeXml(String(value))}"`)
    .join('');
}

/** Files for `check`; for `audit` (no files) the namespace, as a cluster is read by namespace. */
function suiteName(subject: ReportSubject): string {
  if (subject.file !== undefined) return subject.file;
  return subject.namespace ? `namespace ${subject.namespace}` : 'cluster-scoped';
}

function testcase(suite: string, subject: ReportSubject): string[] {
  const errors = subject.findings.filter((f) => f.level === 'error');
  const others = subject.findings.filter((f) => f.level !== 'error');
  const open = `    <testcase${attributes({ name: subjectTitle(subject), classname: suite, file: subject.file, line: subject.line })}`;
  if (errors.length === 0 && others.length === 0) return [`${open}/>`];
  const lines = [`${open}>`];
  for (const error of errors) {
    const firstLine = error.message.split('\n')[0] ?? '';
    lines.push(`      <failure${attributes({ message: firstLine, type: error.rule })}>${escapeText(error.message)}</failure>`);
  }
  if (others.length > 0) {
    const text = others.map((f) => `${f.level} (${f.rule}): ${f.message}`).join('\n');
    lines.push(`      <system-out>${escapeText(text)}</system-out>`);
  }
  lines.push('    </testcase>');
  return lines;
}

/**
 * JUnit XML as CI systems read it (the de facto schema of Jenkins and Ant's
 * junitreport): one testsuite per file (per namespace for `audit`), one
 * testcase per object, one failure per denial; warnings in system-out. Kyverno's `--junit` does the same per policy (kyverno#12799).
 */
export function formatJunit(report: Report): string {
  const suites = new Map<string, ReportSubject[]>();
  for (const subject of report.subjects) {
    const name = suiteName(subject);
    suites.set(name, [...(suites.get(name) ?? []), subject]);
  }
  const failures = (subjects: readonly ReportSubject[]) => subjects.filter((s) => s.findings.some((f) => f.level === 'error')).length;
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attributes({ name: `kgateway-admission ${report.command}`, tests: report.subjects.length, failures: failures(report.subjects), errors: 0 })}>`,
  ];
  for (const [name, subjects] of suites) {
    lines.push(`  <testsuite${attributes({ name, tests: subjects.length, failures: failures(subjects), errors: 0, skipped: 0 })}>`);
    for (const subject of subjects) lines.push(...testcase(name, subject));
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>');
  return lines.join('\n');
}
