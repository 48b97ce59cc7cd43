// The generated matchConditions, without an API server: the chart's file is
// the generator's output, every site of the table is in its kind's condition,
// configuration-extended kinds are not narrowed, and the names and counts are
// what the API server accepts. Whether the CEL skips only what no rule acts
// on is asked of the real API server: test/e2e/matchConditions.e2e.test.ts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig, ruleSettings } from '../../../src/config/config.js';
import { builtInBackendRefKinds } from '../../../src/rules/backendRefKinds.js';
import {
  chartMatchConditions,
  mutatingMatchConditions,
  referrerKindKeys,
  siteCrossesNamespace,
  validatingMatchConditions,
  webhookMatchConditions,
} from '../../../src/rules/matchConditions.js';
import { CHART_MATCH_CONDITIONS_FILE, chartMatchConditionsText } from '../../../src/rules/matchConditionsFile.js';

const settings = (config: unknown = {}) => ruleSettings(parseConfig(config), 'kgateway-v2.1');

describe('matchConditions generated from the tables', () => {
  it(`the chart's ${CHART_MATCH_CONDITIONS_FILE} is the generator's output (else: npm run generate:match-conditions)`, () => {
    const file = readFileSync(join(import.meta.dirname, '..', '..', '..', CHART_MATCH_CONDITIONS_FILE), 'utf8');
    expect(file).toBe(chartMatchConditionsText(chartMatchConditions(builtInBackendRefKinds)));
  });

  it('one validating condition per kind of the table, holding every one of its sites', () => {
    const conditions = validatingMatchConditions(settings(), builtInBackendRefKinds);
    const kinds = [...new Set(builtInBackendRefKinds.map((row) => row.kind))];
    expect(conditions.map((c) => c.name)).toEqual(kinds.map((k) => `cross-namespace-${k.toLowerCase()}`));
    for (const row of builtInBackendRefKinds) {
      const condition = conditions.find((c) => c.name === `cross-namespace-${row.kind.toLowerCase()}`)!;
      expect(condition.expression).toContain(`request.kind.kind == "${row.kind}"`);
      for (const path of row.paths) expect(condition.expression).toContain(siteCrossesNamespace(path));
      expect(condition.expression).toContain(`!(request.kind.version in ${JSON.stringify(row.versions)})`);
    }
  });

  it('a site reads arrays with exists() and the namespace by index (a CEL reserved word), defaulting to the request\'s', () => {
    expect(siteCrossesNamespace('spec.perPort[].listener.httpSettings.accessLog[].grpcService.backendRef')).toBe(
      'has(object.spec) && has(object.spec.perPort) && object.spec.perPort.exists(i0, has(i0.listener) && has(i0.listener.httpSettings) && ' +
        'has(i0.listener.httpSettings.accessLog) && i0.listener.httpSettings.accessLog.exists(i1, has(i1.grpcService) && has(i1.grpcService.backendRef) && ' +
        '"namespace" in i1.grpcService.backendRef && i1.grpcService.backendRef["namespace"] != "" && i1.grpcService.backendRef["namespace"] != request.namespace))',
    );
  });

  it('a kind that configuration extends (a row of its own, or scanKinds) is sent whole; its kind still counts as a referrer for the grant guard', () => {
    const extended = settings({
      validation: {
        backendRefKinds: [{ group: 'gateway.kgateway.dev', kind: 'HTTPListenerPolicy', paths: ['spec.extra.backendRef'] }],
        scanKinds: [{ group: 'agentgateway.dev', kind: 'AgentgatewayBackend' }, { group: 'example.com', kind: 'Widget' }],
      },
    });
    const names = validatingMatchConditions(extended, builtInBackendRefKinds).map((c) => c.name);
    expect(names).not.toContain('cross-namespace-httplistenerpolicy');
    expect(names).not.toContain('cross-namespace-agentgatewaybackend');
    expect(names).toContain('cross-namespace-listenerpolicy');
    expect(referrerKindKeys(extended)).toEqual([...new Set(builtInBackendRefKinds.map((r) => `${r.group}/${r.kind}`)), 'example.com/Widget']);
  });

  it('the class narrows Gateways only when no controller name is configured (a condition cannot read the GatewayClass)', () => {
    expect(mutatingMatchConditions(settings()).map((c) => c.name)).toEqual(['gateway-without-parameters-ref', 'gateway-not-opted-out', 'gateway-not-being-deleted']);
    const byName = mutatingMatchConditions(settings({ mutation: { gatewayClassNames: ['agentgateway', 'mine'], gatewayControllerNames: [], parametersRef: { name: 'p' } } }));
    expect(byName.at(-1)).toEqual({ name: 'gateway-class-by-name', expression: expect.stringContaining('object.spec.gatewayClassName in ["agentgateway","mine"]') });
  });

  it('names are unique qualified names and each webhook stays under the API server\'s 64 conditions', () => {
    const all = webhookMatchConditions(settings({ mutation: { gatewayClassNames: ['a'], gatewayControllerNames: [], parametersRef: { name: 'p' } } }), builtInBackendRefKinds);
    for (const conditions of Object.values(all)) {
      expect(conditions.length).toBeGreaterThan(0);
      expect(conditions.length).toBeLessThanOrEqual(64);
      expect(new Set(conditions.map((c) => c.name)).size).toBe(conditions.length);
      for (const { name } of conditions) expect(name).toMatch(/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/);
    }
  });
});
