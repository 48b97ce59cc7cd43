/**
 * What `check` and `audit` found, in a shape no output format owns: every
 * object looked at, where it was read from when it came from a file, and what
 * each rule (or audit problem) said about it. The report formatters beside
 * this file (JUnit, SARIF, GitHub workflow commands) read only this.
 */
export type Level = 'error' | 'warning';

export interface ReportFinding {
  /** The rule's name (check) or the problem's name (audit): the SARIF rule id. */
  rule: string;
  level: Level;
  message: string;
}

export interface ReportSubject {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  /** Where the object's document starts, for objects read from files or stdin. */
  file?: string;
  line?: number;
  findings: ReportFinding[];
}

export interface Report {
  command: 'check' | 'audit';
  /** The tool's version, for SARIF's tool.driver. */
  version: string;
  subjects: ReportSubject[];
}

/** `namespace/name`, or just `name` for a cluster-scoped object. */
export function qualifiedName(object: { namespace: string; name: string }): string {
  return object.namespace ? `${object.namespace}/${object.name}` : object.name;
}

/** `Kind namespace/name`, `Kind name` for a cluster-scoped object, or `file:line` for a document that is no object. */
export function subjectTitle(subject: Pick<ReportSubject, 'kind' | 'namespace' | 'name'> & Partial<Pick<ReportSubject, 'file' | 'line'>>): string {
  if (!subject.kind) return subject.line !== undefined ? `${subject.file ?? ''}:${subject.line}` : (subject.file ?? 'input');
  return `${subject.kind} ${qualifiedName(subject)}`;
}

export function countLevels(report: Report): Record<Level, number> {
  const counts: Record<Level, number> = { error: 0, warning: 0 };
  for (const subject of report.subjects) for (const finding of subject.findings) counts[finding.level]++;
  return counts;
}
