import type { Finding } from '../../audit/clusterAudit.js';
import type { KubeObject } from '../../rules/types.js';
import type { ReportSubject } from './report.js';

const key = (o: { apiVersion: string; kind: string; namespace: string; name: string }) => `${o.apiVersion}\n${o.kind}\n${o.namespace}\n${o.name}`;

/**
 * Every object audit read, with its findings named by their rule, at their
 * severity (rules/vocabulary.ts), as `check` names them. Objects from a
 * cluster have no file.
 */
export function auditSubjects(objects: readonly KubeObject[], findings: readonly Finding[]): ReportSubject[] {
  const byObject = new Map<string, Finding[]>();
  for (const finding of findings) byObject.set(key(finding), [...(byObject.get(key(finding)) ?? []), finding]);
  return objects.map((object) => {
    const identity = { apiVersion: object.apiVersion ?? '', kind: object.kind ?? '', namespace: object.metadata?.namespace ?? '', name: object.metadata?.name ?? '' };
    return { ...identity, findings: (byObject.get(key(identity)) ?? []).map((f) => ({ rule: f.rule, level: f.severity, message: f.message })) };
  });
}
