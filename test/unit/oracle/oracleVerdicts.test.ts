// Our rules against the real controllers' verdicts (issue 26, item 6).
// test/fixtures/oracle/verdicts.json was recorded by `npm run oracle`
// (scripts/oracle.sh: kgateway and agentgateway built from their Go modules,
// run on the test API server without our webhook, per grant mode). Here, with
// no controller and no API server, every recorded case is decided by our
// rules and compared with what the controller said: where it reports a
// missing grant we deny, where it accepts a granted ref we admit, where it
// accepts an ungranted one the webhook is deliberately stricter and STRICTER
// says why. A Gateway we would point at a missing parameters object is one
// the deployer refuses, so the mutation must never do it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InMemoryClusterView, viewOptionsFor } from '../../../src/cluster/inMemoryClusterView.js';
import { parseConfig, ruleSettings } from '../../../src/config/config.js';
import { buildRuleSet, decide } from '../../../src/rules/ruleSet.js';
import type { KubeObject } from '../../../src/rules/types.js';
import { admissionRequest } from '../../support/builders.js';
import { REPO } from '../../support/cli.js';

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

interface SiteCase {
  controller: 'kgateway' | 'agentgateway';
  version: string;
  grantMode: string;
  case: string;
  group: string;
  kind: string;
  path: string;
  grant: boolean;
  object: KubeObject;
  referenceGrant?: KubeObject;
  conditions: Condition[];
}

interface GatewayCase {
  controller: 'kgateway' | 'agentgateway';
  version: string;
  grantMode: string;
  case: 'parameters-present' | 'parameters-missing' | 'no-parameters-ref';
  gateway: KubeObject;
  conditions: Condition[];
  deployment: { containers: { name: string; env: { name: string; value?: string }[] }[] } | null;
}

interface OracleTable {
  controllers: Record<string, string>;
  sites: SiteCase[];
  gateways: GatewayCase[];
}

const table = JSON.parse(readFileSync(join(REPO, 'test/fixtures/oracle/verdicts.json'), 'utf8')) as OracleTable;

/**
 * Where the controller admits an ungranted ref and the webhook still denies
 * it, and why. The webhook has no grant mode of its own here: it enforces
 * grants on every site it knows, which is what the controllers do in their
 * strictest setting.
 */
const STRICTER: Record<string, string> = {
  'kgateway/OFF': 'kgateway OFF checks no grant at all; the webhook enforces them as PERMISSIVE does (an OFF cluster turns the webhook off for these kinds)',
  'agentgateway/route':
    "agentgateway's default: it does not check policy backendRefs; the webhook exists to enforce them (route-and-policy), so an ungranted ref is refused before it can silently reach another namespace",
  'agentgateway/none': 'agentgateway checks no grant; the webhook still does',
};

/**
 * Sites a controller checks that the rules do not know: none since the site
 * table is generated from the releases' CRDs. A site listed here is admitted
 * by us; once the table has it, this test fails until the entry goes.
 */
const NOT_YET_CHECKED: Record<string, string> = {};

/**
 * Kinds the controller writes no status for on its own (nothing references
 * them here): no verdict to compare; the webhook's own answer is still pinned.
 */
const NO_STATUS: Record<string, string> = {
  'kgateway GatewayExtension': 'kgateway resolves a GatewayExtension only through a TrafficPolicy that uses it, and writes its status then',
};

const settings = ruleSettings(parseConfig({}));
const rules = buildRuleSet(settings);

function verdictOf(conditions: Condition[]): 'missing-grant' | 'accepted' | 'refused' | 'none' {
  if (conditions.length === 0) return 'none';
  if (conditions.some((c) => /missing reference grant|missing a ReferenceGrant/i.test(c.message ?? ''))) return 'missing-grant';
  const accepted = conditions.find((c) => c.type === 'Accepted');
  if (!accepted) return 'none';
  return accepted.status === 'True' ? 'accepted' : 'refused';
}

function ourDecision(site: SiteCase): { allowed: boolean; message?: string } {
  const view = InMemoryClusterView.fromObjects(site.referenceGrant ? [site.referenceGrant] : [], viewOptionsFor(settings));
  const verdict = decide(rules.validating, admissionRequest(site.object), view);
  return { allowed: verdict.allowed, ...(verdict.message ? { message: verdict.message } : {}) };
}

const label = (s: { controller: string; grantMode: string; case: string }, grant?: boolean) => `${s.controller} ${s.grantMode} ${s.case}${grant === undefined ? '' : grant ? ' (granted)' : ' (no grant)'}`;

describe('the recorded controller verdicts (test/fixtures/oracle/verdicts.json)', () => {
  it('covers every controller recorded, each grant mode, with and without a grant', () => {
    expect(Object.keys(table.controllers).length).toBeGreaterThan(0);
    for (const controller of Object.keys(table.controllers)) {
      const cases = table.sites.filter((s) => s.controller === controller);
      expect(cases.length, controller).toBeGreaterThan(0);
      expect(new Set(cases.map((s) => s.grantMode)).size, controller).toBe(3);
      expect(cases.some((s) => s.grant) && cases.some((s) => !s.grant), controller).toBe(true);
      expect(table.gateways.filter((g) => g.controller === controller).length, controller).toBeGreaterThan(0);
    }
  });

  it('where the controller reports a missing grant, the webhook denies', () => {
    const missing = table.sites.filter((s) => verdictOf(s.conditions) === 'missing-grant');
    expect(missing.length).toBeGreaterThan(0);
    for (const site of missing) {
      expect(site.grant, `${label(site)}: a missing grant is reported only without one`).toBe(false);
      const gap = NOT_YET_CHECKED[`${site.kind} ${site.path}`];
      if (gap) {
        expect(ourDecision(site).allowed, `${label(site, false)}: ${gap}; now checked? drop it from NOT_YET_CHECKED`).toBe(true);
        continue;
      }
      const ours = ourDecision(site);
      expect(ours.allowed, `${label(site, false)} is refused by the controller (${site.conditions.map((c) => c.message).join('; ')})`).toBe(false);
      expect(ours.message).toContain(site.path.replaceAll('[]', '[0]'));
    }
  });

  it('where the controller accepts a ref its ReferenceGrant allows, the webhook admits', () => {
    const granted = table.sites.filter((s) => s.grant && verdictOf(s.conditions) === 'accepted');
    expect(granted.length).toBeGreaterThan(0);
    for (const site of granted) expect(ourDecision(site), label(site, true)).toEqual({ allowed: true });
  });

  it('where the controller accepts an ungranted ref, the webhook is deliberately stricter, for a stated reason', () => {
    for (const site of table.sites.filter((s) => !s.grant && verdictOf(s.conditions) === 'accepted')) {
      const reason = STRICTER[`${site.controller}/${site.grantMode}`];
      if (NOT_YET_CHECKED[`${site.kind} ${site.path}`]) continue;
      expect(reason, `${label(site, false)}: the controller accepts it and the webhook denies it; say why in STRICTER`).toBeDefined();
      expect(ourDecision(site).allowed, label(site, false)).toBe(false);
    }
  });

  it('no case is refused by the controller for another reason, or left without a verdict unexplained', () => {
    for (const site of table.sites) {
      const verdict = verdictOf(site.conditions);
      if (verdict === 'none') {
        expect(NO_STATUS[`${site.controller} ${site.kind}`], `${label(site, site.grant)}: no status from the controller`).toBeDefined();
        // The webhook's answer stays pinned: deny without the grant, admit with it.
        expect(ourDecision(site).allowed, label(site, site.grant)).toBe(site.grant);
      }
      expect(verdict, `${label(site, site.grant)}: ${JSON.stringify(site.conditions)}`).not.toBe('refused');
    }
  });
});

describe('the recorded Gateway cases: the mutation never produces a Gateway the deployer refuses', () => {
  const PARAMETERS = {
    kgateway: { profile: 'kgateway-v2.1', group: 'gateway.kgateway.dev', kind: 'GatewayParameters' },
    agentgateway: { profile: 'agentgateway-v2.2', group: 'agentgateway.dev', kind: 'AgentgatewayParameters' },
  } as const;

  /** Our mutation of the recorded Gateway without its ref, with or without the parameters object it names in the view. */
  function mutate(g: GatewayCase, objectPresent: boolean) {
    const p = PARAMETERS[g.controller];
    const ref = (g.gateway.spec as { infrastructure?: { parametersRef?: { name: string } } }).infrastructure?.parametersRef;
    const className = (g.gateway.spec as { gatewayClassName: string }).gatewayClassName;
    const s = ruleSettings(parseConfig({ profile: p.profile, mutation: { gatewayClassNames: [className], parametersRef: { group: p.group, kind: p.kind, name: ref?.name ?? 'otel' } } }));
    const namespace = g.gateway.metadata!.namespace!;
    const objects = objectPresent ? [{ apiVersion: `${p.group}/v1alpha1`, kind: p.kind, metadata: { name: ref?.name ?? 'otel', namespace } }] : [];
    const withoutRef: KubeObject = { ...g.gateway, spec: { ...(g.gateway.spec as object), infrastructure: undefined } };
    delete (withoutRef.spec as { infrastructure?: unknown }).infrastructure;
    return decide(buildRuleSet(s).mutating, admissionRequest(withoutRef), InMemoryClusterView.fromObjects(objects, viewOptionsFor(s)));
  }

  const accepted = (g: GatewayCase) => g.conditions.find((c) => c.type === 'Accepted');

  it('a ref to a missing parameters object: the deployer refuses the Gateway (InvalidParameters), and the mutation never adds such a ref', () => {
    const missing = table.gateways.filter((g) => g.case === 'parameters-missing');
    expect(missing.length).toBeGreaterThan(0);
    for (const g of missing) {
      expect(accepted(g), label(g)).toMatchObject({ status: 'False', reason: 'InvalidParameters' });
      const verdict = mutate(g, false);
      expect(verdict.patch, label(g)).toEqual([]);
      expect(verdict.warnings.join('\n'), label(g)).toContain('parametersRef not added');
    }
  });

  it('the ref our mutation adds where the object exists is the one the deployer accepts, and the proxy carries the parameters env', () => {
    const present = table.gateways.filter((g) => g.case === 'parameters-present');
    expect(present.length).toBeGreaterThan(0);
    for (const g of present) {
      // This Gateway is also the target of the site cases: kgateway sets its Accepted to False (GatewayReplaced,
      // "missing reference grant") for the ungranted policies attached to it. The parameters are never the reason.
      expect(accepted(g)?.reason, label(g)).not.toBe('InvalidParameters');
      const verdict = mutate(g, true);
      const ref = (g.gateway.spec as { infrastructure: { parametersRef: unknown } }).infrastructure.parametersRef;
      expect(verdict.patch, label(g)).toEqual([{ op: 'add', path: '/spec/infrastructure', value: { parametersRef: ref } }]);
      const env = g.deployment?.containers.flatMap((c) => c.env) ?? [];
      expect(env, label(g)).toContainEqual({ name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: 'http://otel-collector.monitoring:4317' });
    }
  });

  it('a Gateway left without the ref deploys with the defaults', () => {
    for (const g of table.gateways.filter((x) => x.case === 'no-parameters-ref')) {
      expect(accepted(g), label(g)).toMatchObject({ status: 'True' });
      expect(g.deployment, label(g)).not.toBeNull();
    }
  });
});
