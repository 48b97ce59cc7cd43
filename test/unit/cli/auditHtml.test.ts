import { describe, expect, it } from 'vitest';
import { formatFindingsHtml } from '../../../src/cli/reportFormats/auditHtml.js';
import type { Finding } from '../../../src/audit/clusterAudit.js';
import { parseAllDocuments } from 'yaml';
import { auditProblemRule, auditProblemSeverity } from '../../../src/rules/vocabulary.js';
import { referenceGrant } from '../../support/builders.js';

/** A finding as auditObjects makes it: its rule and severity from the vocabulary. */
const at = (f: Omit<Finding, 'rule' | 'severity'>): Finding => ({ ...f, rule: auditProblemRule(f.problem), severity: auditProblemSeverity(f.problem, f.enforcement) });

const base = { generatedAt: new Date('2026-01-02T03:04:05Z'), profile: 'kgateway-v2.1', scanned: 3 };

describe('formatFindingsHtml', () => {
  it('escapes what comes from the cluster, and loads nothing from elsewhere', () => {
    const finding = at({ apiVersion: 'x/v1', kind: 'HTTPListenerPolicy', namespace: 'a', name: 'p', problem: 'missing-parameters', message: 'its parametersRef names GatewayParameters a/<img src=x onerror=alert(1)>, which does not exist', suggestions: [] });
    const html = formatFindingsHtml({ ...base, findings: [finding] });
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).not.toMatch(/<(script|link|img|iframe|object|embed)\b|@import|url\(/i);
  });

  it('groups by namespace, then rule; a class-parametersRef finding is a warning with its advice as the fix', () => {
    const findings: Finding[] = [
      at({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', namespace: 'b', name: 'g', problem: 'class-parametersRef', message: 'left alone: …; give it a parametersRef yourself, or set mutation.classParameters: add', suggestions: [] }),
      at({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', namespace: 'a', name: 'g', problem: 'missing-parametersRef', message: 'no ref', suggestions: [] }),
    ];
    const html = formatFindingsHtml({ ...base, findings });
    expect(html.indexOf('Namespace a')).toBeLessThan(html.indexOf('Namespace b'));
    expect(html).toContain('<span class="badge warn">warn</span>');
    expect(html).toContain('give it a parametersRef yourself, or set mutation.classParameters: add</div>');
  });

  it('says when a namespace in warn mode admitted the object anyway', () => {
    const finding = at({ apiVersion: 'x/v1', kind: 'HTTPListenerPolicy', namespace: 'a', name: 'p', problem: 'ungranted-reference', enforcement: 'warn', message: 'no grant', suggestions: [] });
    expect(formatFindingsHtml({ ...base, findings: [finding] })).toContain('admitted in warn mode; kgateway still refuses the ref');
  });

  it('says so when there is nothing to fix', () => {
    expect(formatFindingsHtml({ ...base, findings: [] })).toContain('No findings');
  });

  it('the fix block is pure YAML that applies as it is (the prose goes above it), grouped under the one rule id', () => {
    const grants = [referenceGrant({ name: 'allow-a' }), referenceGrant({ name: 'allow-b', namespace: 'tracing' })];
    const message = 'HTTPListenerPolicy a/p refers to objects in other namespaces that no ReferenceGrant allows:\n- x: Service monitoring/otel\nCreate these ReferenceGrants in namespaces monitoring, tracing to allow it:\napiVersion: …';
    const html = formatFindingsHtml({ ...base, findings: [at({ apiVersion: 'x/v1', kind: 'HTTPListenerPolicy', namespace: 'a', name: 'p', problem: 'ungranted-reference', message, suggestions: grants })] });
    const pre = /<pre>([\s\S]*?)<\/pre>/.exec(html)![1]!.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
    const documents = parseAllDocuments(pre);
    expect(documents.every((d) => d.errors.length === 0)).toBe(true);
    expect(documents.map((d) => d.toJS())).toEqual(grants);
    expect(html).toContain('<span>Fix:</span> Create these 2 ReferenceGrants (kubectl apply -f -):<pre>');
    expect(html).toContain('<h3>cross-namespace-backend-refs (1)</h3>');
  });
});
