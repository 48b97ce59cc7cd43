// Our rules against the real controllers' verdicts (issue 26, item 6).
// test/fixtures/oracle/verdicts.json was recorded by `npm run oracle`
// (scripts/oracle.sh: kgateway and agentgateway built from their Go modules,
// run on the test API server without our webhook, per grant mode). Here, with
// no controller and no API server, every recorded case is decided by our
// rules and compared with what the controller said: where it reports a
// missing grant we deny, where it accepts a granted ref we admit, where it
// accepts an ungranted one the webhook is deliberately stricter and STRICTER
// says why. A Gateway we would point at a missing parameters object is one
// the deployer refuses, so the mutation must never do it; with copies on, the
// Gateway our webhook patched in a team namespace (the ref added before the
// copy is there) is accepted, and its proxy carries the copied source's OTEL env.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InMemoryClusterView, viewOptionsFor } from '../../../src/cluster/inMemoryClusterView.js';
import { parseConfig, ruleSettings } from '../../../src/config/config.js';
import { copyObject } from '../../../src/rules/parametersCopies.js';
import { buildRuleSet, decide } from '../../../src/rules/ruleSet.js';
import type { KubeObject } from '../../../src/rules/types.js';
import { ORACLE_VERDICTS_FILE, type Condition, type GatewayVerdict as GatewayCase, type OracleTable, type SiteVerdict as SiteCase } from '../../../harness/oracleVerdicts.ts';
import { admissionRequest } from '../../support/builders.js';

const table = JSON.parse(readFileSync(ORACLE_VERDICTS_FILE, 'utf8')) as OracleTable;

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
  const view = InMemoryClusterView.fromObjects(site.referenceGrant ? [site.referenceGrant as KubeObject] : [], viewOptionsFor(settings));
  const verdict = decide(rules.validating, admissionRequest(site.object as KubeObject), view);
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
      // The Gateway case through our webhook with copies on, under each grant mode.
      expect(new Set(table.gateways.filter((g) => g.controller === controller && g.case === 'team-namespace-copy').map((g) => g.grantMode)).size, controller).toBe(3);
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
  // Our profiles for the releases recorded (kgateway v2.4.x, agentgateway v1.x).
  const PARAMETERS = {
    kgateway: { profile: 'kgateway-v2.4', group: 'gateway.kgateway.dev', kind: 'GatewayParameters' },
    agentgateway: { profile: 'agentgateway-v1', group: 'agentgateway.dev', kind: 'AgentgatewayParameters' },
  } as const;

  /** Our mutation of the recorded Gateway without its ref, with or without the parameters object it names in the view. */
  function mutate(g: GatewayCase, objectPresent: boolean) {
    const p = PARAMETERS[g.controller];
    const ref = (g.gateway.spec as { infrastructure?: { parametersRef?: { name: string } } }).infrastructure?.parametersRef;
    const className = (g.gateway.spec as { gatewayClassName: string }).gatewayClassName;
    const s = ruleSettings(parseConfig({ profile: p.profile, mutation: { gatewayClassNames: [className], parametersRef: { group: p.group, kind: p.kind, name: ref?.name ?? 'otel' } } }));
    const namespace = (g.gateway as KubeObject).metadata!.namespace!;
    const objects = objectPresent ? [{ apiVersion: `${p.group}/v1alpha1`, kind: p.kind, metadata: { name: ref?.name ?? 'otel', namespace } }] : [];
    const withoutRef: KubeObject = { ...(g.gateway as KubeObject), spec: { ...(g.gateway.spec as object), infrastructure: undefined } };
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

  /** The OTEL_EXPORTER_OTLP_ENDPOINT entries anywhere in a parameters object's spec (kgateway: kube.envoyContainer.env; agentgateway: env). */
  function otelEnv(value: unknown): { name: string; value?: string }[] {
    if (Array.isArray(value)) return value.flatMap(otelEnv);
    if (value === null || typeof value !== 'object') return [];
    const entry = value as { name?: unknown; value?: unknown };
    if (entry.name === 'OTEL_EXPORTER_OTLP_ENDPOINT' && typeof entry.value === 'string') return [{ name: entry.name, value: entry.value }];
    return Object.values(value).flatMap(otelEnv);
  }

  const teamCases = table.gateways.filter((g) => g.case === 'team-namespace-copy');

  it('in a team namespace with no parameters object, with copies on: our mutation adds the ref the webhook added, and the copy is ours', () => {
    expect(teamCases.length).toBeGreaterThan(0);
    for (const g of teamCases) {
      const copied = g.copied!;
      expect(copied, label(g)).toBeDefined();
      const s = ruleSettings(parseConfig(copied.webhookConfig));
      const source = copied.source as KubeObject;
      // What the webhook saw when the Gateway came: the source, nothing yet in the Gateway's namespace.
      const verdict = decide(buildRuleSet(s).mutating, admissionRequest(copied.sent as KubeObject), InMemoryClusterView.fromObjects([source], viewOptionsFor(s)));
      const ref = (g.gateway.spec as { infrastructure: { parametersRef: unknown } }).infrastructure.parametersRef;
      expect(verdict.patch, label(g)).toEqual([{ op: 'add', path: '/spec/infrastructure', value: { parametersRef: ref } }]);
      expect(verdict.warnings, label(g)).toEqual([]);
      const namespace = (g.gateway as KubeObject).metadata!.namespace!;
      const expectedCopy = copyObject({ namespace: source.metadata!.namespace!, name: source.metadata!.name!, spec: source.spec }, { apiVersion: source.apiVersion!, kind: source.kind! }, namespace);
      expect(copied.copy, label(g)).toEqual(expectedCopy);
    }
  });

  it('in a team namespace with a copy: the deployer accepts the Gateway we patched, and its proxy carries the OTEL env of the source we copied', () => {
    expect(teamCases.length).toBeGreaterThan(0);
    for (const g of teamCases) {
      expect(accepted(g), label(g)).toMatchObject({ status: 'True' });
      const sourceEnv = otelEnv(g.copied!.source.spec);
      expect(sourceEnv.length, label(g)).toBe(1);
      const env = g.deployment?.containers.flatMap((c) => c.env) ?? [];
      expect(env, label(g)).toContainEqual(sourceEnv[0]);
    }
  });

  it('no Gateway our mutation patches is refused by the deployer for its parameters', () => {
    const patched = [...table.gateways.filter((g) => g.case === 'parameters-present' && mutate(g, true).patch.length > 0), ...teamCases];
    expect(patched.length).toBe(table.gateways.filter((g) => g.case === 'parameters-present').length + teamCases.length);
    for (const g of patched) {
      expect(accepted(g)?.reason, label(g)).not.toBe('InvalidParameters');
      expect(g.deployment, label(g)).not.toBeNull();
    }
  });

  it('a Gateway left without the ref deploys with the defaults', () => {
    for (const g of table.gateways.filter((x) => x.case === 'no-parameters-ref')) {
      expect(accepted(g), label(g)).toMatchObject({ status: 'True' });
      expect(g.deployment, label(g)).not.toBeNull();
    }
  });
});
