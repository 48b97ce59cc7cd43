import { describe, expect, it } from 'vitest';
import { formatFindingsHtml } from '../../../src/cli/reportFormats/auditHtml.js';
import type { Finding } from '../../../src/audit/clusterAudit.js';

const base = { generatedAt: new Date('2026-01-02T03:04:05Z'), profile: 'kgateway-v2.1', scanned: 3 };

describe('formatFindingsHtml', () => {
  it('escapes what comes from the cluster, and loads nothing from elsewhere', () => {
    const finding: Finding = { apiVersion: 'x/v1', kind: 'HTTPListenerPolicy', namespace: 'a', name: 'p', problem: 'missing-parameters', message: 'its parametersRef names GatewayParameters a/<img src=x onerror=alert(1)>, which does not exist', suggestions: [] };
    const html = formatFindingsHtml({ ...base, findings: [finding] });
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).not.toMatch(/<(script|link|img|iframe|object|embed)\b|@import|url\(/i);
  });

  it('groups by namespace, then rule; a class-parametersRef finding is a warning with its advice as the fix', () => {
    const findings: Finding[] = [
      { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', namespace: 'b', name: 'g', problem: 'class-parametersRef', message: 'left alone: …; give it a parametersRef yourself, or set mutation.classParameters: add', suggestions: [] },
      { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', namespace: 'a', name: 'g', problem: 'missing-parametersRef', message: 'no ref', suggestions: [] },
    ];
    const html = formatFindingsHtml({ ...base, findings });
    expect(html.indexOf('Namespace a')).toBeLessThan(html.indexOf('Namespace b'));
    expect(html).toContain('<span class="badge warn">warn</span>');
    expect(html).toContain('give it a parametersRef yourself, or set mutation.classParameters: add</div>');
  });

  it('says when a namespace in warn mode admitted the object anyway', () => {
    const finding: Finding = { apiVersion: 'x/v1', kind: 'HTTPListenerPolicy', namespace: 'a', name: 'p', problem: 'ungranted-reference', enforcement: 'warn', message: 'no grant', suggestions: [] };
    expect(formatFindingsHtml({ ...base, findings: [finding] })).toContain('admitted in warn mode; kgateway still refuses the ref');
  });

  it('says so when there is nothing to fix', () => {
    expect(formatFindingsHtml({ ...base, findings: [] })).toContain('No findings');
  });
});
