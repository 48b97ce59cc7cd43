import { describe, expect, it } from 'vitest';
import { InMemoryClusterView } from '../../../src/cluster/inMemoryClusterView.js';
import { parseConfig, ruleSettings } from '../../../src/config/config.js';
import { viewOptionsFor } from '../../../src/cluster/inMemoryClusterView.js';
import { buildRuleSet, decide } from '../../../src/rules/ruleSet.js';
import type { KubeObject } from '../../../src/rules/types.js';
import { grantChangeTookEffect, MAX_DEPENDANT_EVENTS, warningEvents } from '../../../src/rules/warningEvents.js';
import { admissionRequest, gateway, httpListenerPolicy, referenceGrant } from '../../support/builders.js';

const settings = ruleSettings(parseConfig({}));
const rules = buildRuleSet(settings);

function eventsFor(objects: KubeObject[], request: ReturnType<typeof admissionRequest>, endpoint: 'mutating' | 'validating' = 'validating') {
  const view = InMemoryClusterView.fromObjects(objects, viewOptionsFor(settings));
  return warningEvents(request, decide(rules[endpoint], request, view), view);
}

const grant = referenceGrant();
const logging = httpListenerPolicy({ name: 'logging-policy' });

describe('warningEvents', () => {
  it('one event on each object that a grant deletion leaves without its permission, to record once the grant is gone', () => {
    const other = httpListenerPolicy({ name: 'tracing-policy' });
    const events = eventsFor([logging, other, grant], admissionRequest(null, 'DELETE', grant));
    expect(events.map((e) => e.regarding)).toEqual([
      { group: 'gateway.kgateway.dev', kind: 'HTTPListenerPolicy', namespace: 'kgateway', name: 'logging-policy' },
      { group: 'gateway.kgateway.dev', kind: 'HTTPListenerPolicy', namespace: 'kgateway', name: 'tracing-policy' },
    ]);
    expect(events[0]).toMatchObject({
      reason: 'ReferenceGrantRemoved',
      action: 'ReferenceGrantDeleted',
      related: { kind: 'ReferenceGrant', namespace: 'monitoring', name: 'allow-otel-collector-access' },
      after: { deleted: true, previous: expect.objectContaining({}) },
    });
    expect(events[0]!.note).toContain('ReferenceGrant monitoring/allow-otel-collector-access was deleted; no grant now allows Service monitoring/otel-collector-collector');
  });

  it('an update that narrows the grant is recorded as such; one that keeps the permission records nothing', () => {
    const narrowed = referenceGrant({ to: [{ name: 'something-else' }] });
    const events = eventsFor([logging, grant], admissionRequest(narrowed, 'UPDATE', grant));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ action: 'ReferenceGrantUpdated', after: { deleted: false } });
    expect(eventsFor([logging, grant], admissionRequest(grant, 'UPDATE', grant))).toEqual([]);
  });

  it('an object admitted with warnings gets one event with the warnings; without warnings, denied, or in a dry run, nothing', () => {
    // The mutation warns that the GatewayParameters it would point at does not exist.
    const events = eventsFor([], admissionRequest(gateway(), 'CREATE'), 'mutating');
    expect(events).toEqual([
      {
        regarding: { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'kgateway', name: 'agentgateway' },
        reason: 'AdmittedWithWarnings',
        action: 'Admitted',
        note: expect.stringContaining('parametersRef not added: create GatewayParameters kgateway/agentgateway-otel'),
      },
    ]);
    expect(eventsFor([], { ...admissionRequest(gateway(), 'CREATE'), dryRun: true }, 'mutating')).toEqual([]);
    expect(eventsFor([grant], admissionRequest(logging, 'CREATE'))).toEqual([]);
    expect(eventsFor([], admissionRequest(logging, 'CREATE'))).toEqual([]);
    const generated = gateway();
    delete generated.metadata!.name;
    expect(eventsFor([], { ...admissionRequest(generated, 'CREATE'), name: undefined }, 'mutating')).toEqual([]);
  });

  it(`a grant that very many objects lean on records at most ${MAX_DEPENDANT_EVENTS} events`, () => {
    const many = Array.from({ length: MAX_DEPENDANT_EVENTS + 20 }, (_, i) => httpListenerPolicy({ name: `p-${String(i).padStart(3, '0')}` }));
    expect(eventsFor([...many, grant], admissionRequest(null, 'DELETE', grant))).toHaveLength(MAX_DEPENDANT_EVENTS);
  });
});

describe('grantChangeTookEffect', () => {
  const view = (objects: KubeObject[]) => InMemoryClusterView.fromObjects(objects, viewOptionsFor(settings));
  it('a deletion has happened once the view no longer has the grant; a refused one has not', () => {
    const [event] = eventsFor([logging, grant], admissionRequest(null, 'DELETE', grant));
    expect(grantChangeTookEffect(view([logging]), event!.after!)).toBe(true);
    expect(grantChangeTookEffect(view([logging, grant]), event!.after!)).toBe(false);
  });

  it('an update has happened once the view holds the new entries', () => {
    const narrowed = referenceGrant({ to: [{ name: 'something-else' }] });
    const [event] = eventsFor([logging, grant], admissionRequest(narrowed, 'UPDATE', grant));
    expect(grantChangeTookEffect(view([logging, narrowed]), event!.after!)).toBe(true);
    expect(grantChangeTookEffect(view([logging, grant]), event!.after!)).toBe(false);
    expect(grantChangeTookEffect(view([logging]), event!.after!)).toBe(false);
  });
});
