import { isAbsolute, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Log, ReportingDescriptor, Result } from 'sarif';
import { subjectTitle, type Report, type ReportSubject } from './report.js';

const SARIF_SCHEMA = 'https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json';

/** A file path as SARIF's artifactLocation.uri, a URI reference (SARIF 2.1.0 §3.4.3). */
function artifactUri(file: string): string {
  if (isAbsolute(file)) return pathToFileURL(file).href;
  return encodeURI(file.split(sep).join('/'));
}

/** The rule id as words: `missing-parametersRef` reads "missing parametersRef". */
function ruleDescriptor(id: string, command: string): ReportingDescriptor {
  return {
    id,
    name: id,
    shortDescription: { text: `kgateway-admission ${command}: ${id.replace(/-/g, ' ')}` },
  };
}

function locations(subject: ReportSubject): Result['locations'] {
  const logical = [{ fullyQualifiedName: subjectTitle(subject), kind: 'resource' }];
  if (subject.file === undefined) return [{ logicalLocations: logical }];
  return [
    {
      physicalLocation: {
        artifactLocation: { uri: artifactUri(subject.file) },
        ...(subject.line !== undefined ? { region: { startLine: subject.line } } : {}),
      },
      logicalLocations: logical,
    },
  ];
}

/**
 * SARIF 2.1.0 (OASIS), as GitHub code scanning and other viewers read it: one
 * rule per rule or audit problem that found something, named by it, so a new
 * rule or problem appears without a change here; one result per finding, at
 * the file and line where its object starts (kyverno#4073 asks the same).
 */
export function formatSarif(report: Report): string {
  const rules: ReportingDescriptor[] = [];
  const ruleIndex = new Map<string, number>();
  const results: Result[] = [];
  for (const subject of report.subjects) {
    for (const finding of subject.findings) {
      let index = ruleIndex.get(finding.rule);
      if (index === undefined) {
        index = rules.push(ruleDescriptor(finding.rule, report.command)) - 1;
        ruleIndex.set(finding.rule, index);
      }
      results.push({
        ruleId: finding.rule,
        ruleIndex: index,
        level: finding.level,
        message: { text: `${subjectTitle(subject)}: ${finding.message}` },
        locations: locations(subject),
      });
    }
  }
  const log: Log = {
    $schema: SARIF_SCHEMA,
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: 'kgateway-admission', version: report.version, semanticVersion: report.version, rules } },
        automationDetails: { id: `kgateway-admission/${report.command}/` },
        results,
      },
    ],
  };
  return JSON.stringify(log, null, 2);
}
