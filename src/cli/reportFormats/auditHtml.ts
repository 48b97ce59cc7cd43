import type { Finding, Problem } from '../../audit/clusterAudit.js';
import { outcomeOf } from '../../audit/policyReportResults.js';
import { kubectlYaml } from '../../rules/kubectlYaml.js';

export interface HtmlReportInput {
  profile: string;
  scanned: number;
  findings: readonly Finding[];
  generatedAt: Date;
  /** The API server the audit read, shown in the header. */
  cluster?: string;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

const PROBLEM_TITLE: Record<Problem, string> = {
  'ungranted-reference': 'cross-namespace backendRef without a ReferenceGrant',
  'missing-parametersRef': 'agentgateway Gateway without its parametersRef',
  'missing-parameters': 'parametersRef names an object that does not exist',
  'class-parametersRef': "Gateway left alone for its GatewayClass's parametersRef",
};

/** What is wrong and what to apply, split out of the audit's message: the fix as prose, and YAML that applies as it is. */
function whatAndFix(finding: Finding): { what: string; fix: string; yaml?: string } {
  const marker = finding.message.search(/^Create (this ReferenceGrant|these ReferenceGrants) in /m);
  if (finding.problem === 'ungranted-reference' && marker >= 0 && finding.suggestions.length > 0) {
    const n = finding.suggestions.length;
    return {
      what: finding.message.slice(0, marker).trim(),
      fix: `Create ${n === 1 ? `this ReferenceGrant in namespace ${finding.suggestions[0]!.metadata?.namespace ?? ''}` : `these ${n} ReferenceGrants`} (kubectl apply -f -):`,
      yaml: finding.suggestions.map((grant) => kubectlYaml(grant).trimEnd()).join('\n---\n'),
    };
  }
  switch (finding.problem) {
    case 'missing-parametersRef':
      return {
        what: finding.message,
        fix: `Re-apply the Gateway (kubectl apply, or any update) so the webhook adds spec.infrastructure.parametersRef, or add it yourself.`,
      };
    case 'missing-parameters': {
      const named = /names (\S+) (\S+)\/(\S+), which/.exec(finding.message);
      return {
        what: finding.message,
        fix: named ? `Create the ${named[1]} ${named[3]} in namespace ${named[2]} (the chart's gatewayParameters.create can), or point the Gateway at one that exists.` : 'Create the parameters object the Gateway names.',
      };
    }
    default:
      return { what: finding.message, fix: finding.message.slice(finding.message.lastIndexOf(';') + 1).trim() };
  }
}

const STYLE = `
:root{color-scheme:light;--fail:#b42318;--warn:#b54708;--ok:#067647;--line:#d0d5dd;--muted:#475467}
*{box-sizing:border-box}body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;color:#101828;background:#f9fafb}
header{background:#101828;color:#fff;padding:20px 32px}header h1{margin:0 0 4px;font-size:22px}header p{margin:0;color:#d0d5dd}
main{padding:20px 32px;max-width:1200px}
.summary{display:flex;gap:12px;margin:0 0 20px}.tile{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 16px;min-width:140px}
.tile b{display:block;font-size:24px}.tile.fail b{color:var(--fail)}.tile.warn b{color:var(--warn)}.tile.ok b{color:var(--ok)}
section.ns{background:#fff;border:1px solid var(--line);border-radius:8px;margin:0 0 18px;padding:4px 18px 14px}
section.ns h2{font-size:18px;margin:12px 0 4px}h3{font-size:15px;margin:14px 0 6px;color:var(--muted)}
article{border-top:1px solid var(--line);padding:10px 0}article:first-of-type{border-top:0}
.obj{font-weight:600}.badge{display:inline-block;font-size:12px;font-weight:700;border-radius:10px;padding:1px 8px;margin-right:8px;color:#fff;text-transform:uppercase}
.badge.fail{background:var(--fail)}.badge.warn{background:var(--warn)}
.what{white-space:pre-wrap;margin:6px 0;color:#344054}.fix{margin:6px 0 0}.fix span{font-weight:600;color:var(--ok)}
pre{background:#f2f4f7;border:1px solid var(--line);border-radius:6px;padding:10px;overflow:auto;font:13px/1.4 ui-monospace,"DejaVu Sans Mono",monospace;margin:6px 0 0}
.clean{font-size:18px;color:var(--ok)}footer{color:var(--muted);font-size:13px;padding:0 32px 24px}
`;

/**
 * `audit --output html`: one self-contained page (inline CSS, no script, no
 * external asset) with the findings by namespace and rule, each with the fix
 * to apply, for a person without Prometheus or Policy Reporter at hand.
 */
export function formatFindingsHtml(input: HtmlReportInput): string {
  const byNamespace = new Map<string, Map<string, Finding[]>>();
  for (const f of input.findings) {
    const ns = f.namespace || '(cluster-scoped)';
    const rule = outcomeOf(f).rule;
    let rules = byNamespace.get(ns);
    if (!rules) byNamespace.set(ns, (rules = new Map()));
    rules.set(rule, [...(rules.get(rule) ?? []), f]);
  }
  const fails = input.findings.filter((f) => outcomeOf(f).result === 'fail').length;
  const warns = input.findings.length - fails;
  const sections = [...byNamespace.keys()].sort().map((ns) => {
    const rules = byNamespace.get(ns)!;
    const blocks = [...rules.keys()].sort().map((rule) => {
      const items = rules
        .get(rule)!
        .slice()
        .sort((a, b) => `${a.kind}/${a.name}`.localeCompare(`${b.kind}/${b.name}`))
        .map((f) => {
          const result = outcomeOf(f).result;
          const { what, fix, yaml } = whatAndFix(f);
          return `<article><div><span class="badge ${result}">${result}</span><span class="obj">${esc(f.kind)} ${esc(f.namespace ? `${f.namespace}/` : '')}${esc(f.name)}</span> — ${esc(PROBLEM_TITLE[f.problem])}</div>
<div class="what">${f.enforcement === 'warn' ? 'Its namespace is in warn mode: admitted in warn mode; kgateway still refuses the ref.\n' : ''}${esc(what)}</div>
<div class="fix"><span>Fix:</span> ${esc(fix)}${yaml ? `<pre>${esc(yaml)}</pre>` : ''}</div></article>`;
        });
      return `<h3>${esc(rule)} (${rules.get(rule)!.length})</h3>\n${items.join('\n')}`;
    });
    const count = [...rules.values()].reduce((n, l) => n + l.length, 0);
    return `<section class="ns"><h2>Namespace ${esc(ns)} — ${count} finding${count === 1 ? '' : 's'}</h2>\n${blocks.join('\n')}</section>`;
  });
  const body =
    input.findings.length === 0
      ? `<p class="clean">No findings: every cross-namespace backendRef has its ReferenceGrant and every agentgateway Gateway its parameters.</p>`
      : sections.join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>kgateway-admission audit — ${input.findings.length} finding${input.findings.length === 1 ? '' : 's'}</title>
<style>${STYLE}</style></head>
<body><header><h1>kgateway-admission audit</h1><p>${esc(input.cluster ? `${input.cluster} · ` : '')}profile ${esc(input.profile)} · ${esc(input.generatedAt.toISOString())}</p></header>
<main><div class="summary"><div class="tile"><b>${input.scanned}</b>objects audited</div><div class="tile fail"><b>${fails}</b>fail</div><div class="tile warn"><b>${warns}</b>warn</div><div class="tile ok"><b>${byNamespace.size}</b>namespaces with findings</div></div>
${body}
</main><footer>Generated by kgateway-admission audit --output html. The same findings are the fail and warn results of the openreports.io Reports (serve --reports).</footer></body></html>
`;
}
