// Dispatch by Rule.operations (issue 22 item 4), as cert-manager's admission
// plugins declare Handles(op): the rule set asks a rule only about the
// operations it names, so no rule has to repeat the check.
import { describe, expect, it } from 'vitest';
import { InMemoryClusterView } from '../../../src/cluster/inMemoryClusterView.js';
import { parseConfig, ruleSettings } from '../../../src/config/config.js';
import { appliesTo, type Rule } from '../../../src/rules/rule.js';
import { buildRuleSet, decide, isHandled, withVersionGate } from '../../../src/rules/ruleSet.js';
import type { Operation } from '../../../src/rules/types.js';
import { denied } from '../../../src/rules/verdicts.js';
import { admissionRequest, httpListenerPolicy, referenceGrant } from '../../support/builders.js';

/** A rule that handles every kind, denies, and records what it was asked about. */
function recordingRule(operations: Operation[], asked: Operation[]): Rule {
  return {
    name: 'recording',
    operations,
    handles: () => true,
    decide: (request) => {
      asked.push(request.operation);
      return denied('no');
    },
  };
}

describe('dispatch by Rule.operations', () => {
  const view = InMemoryClusterView.fromObjects([]);
  const policy = httpListenerPolicy();

  it('asks a rule only about the operations it declares, whatever its handles says', () => {
    const asked: Operation[] = [];
    const rules = [recordingRule(['DELETE'], asked)];
    expect(decide(rules, admissionRequest(policy, 'CREATE'), view).allowed).toBe(true);
    expect(decide(rules, admissionRequest(policy, 'UPDATE', policy), view).allowed).toBe(true);
    expect(isHandled(rules, admissionRequest(policy, 'CREATE'))).toBe(false);
    expect(decide(rules, admissionRequest(null, 'DELETE', policy), view).allowed).toBe(false);
    expect(asked).toEqual(['DELETE']);
  });

  it('gates versions only for the operations some rule declares', () => {
    const asked: Operation[] = [];
    const gated = withVersionGate([recordingRule(['CREATE'], asked)], new Map([['gateway.kgateway.dev/HTTPListenerPolicy', ['v1alpha1']]]));
    const v2 = { ...policy, apiVersion: 'gateway.kgateway.dev/v2' };
    expect(decide(gated, admissionRequest(v2, 'CREATE'), view).message).toContain('cannot check HTTPListenerPolicy at gateway.kgateway.dev/v2');
    expect(decide(gated, admissionRequest(null, 'DELETE', v2), view).allowed).toBe(true);
    expect(asked).toEqual([]);
  });

  it("the built rules declare the operations they decide: validation on CREATE and UPDATE, the guard on UPDATE and DELETE", () => {
    const rules = buildRuleSet(ruleSettings(parseConfig({})));
    const operationsOf = (name: string) => [...rules.mutating, ...rules.validating].find((r) => r.name === name)!.operations;
    expect(operationsOf('gateway-parameters-ref')).toEqual(['CREATE', 'UPDATE']);
    expect(operationsOf('cross-namespace-backend-refs')).toEqual(['CREATE', 'UPDATE']);
    expect(operationsOf('reference-grant-guard')).toEqual(['UPDATE', 'DELETE']);
    const guard = rules.validating.find((r) => r.name === 'reference-grant-guard')!;
    expect(appliesTo(guard, admissionRequest(referenceGrant(), 'CREATE'))).toBe(false);
    expect(appliesTo(guard, admissionRequest(null, 'DELETE', referenceGrant()))).toBe(true);
  });
});
