import { describe, expect, it } from 'vitest';
import { InMemoryClusterView } from '../../../src/cluster/inMemoryClusterView.js';
import { suggestedGrantName, suggestedReferenceGrant } from '../../../src/rules/referenceGrantSuggestion.js';
import { referenceGrant } from '../../support/builders.js';

const from = { group: 'gateway.kgateway.dev', kind: 'HTTPListenerPolicy', namespace: 'kgateway' };
const to = (name: string, fields: Partial<{ group: string; kind: string; namespace: string }> = {}) => ({ group: '', kind: 'Service', namespace: 'monitoring', name, ...fields });
/** DNS-1123 subdomain, as the API server checks metadata.name of a custom resource. */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

describe('suggested ReferenceGrant names', () => {
  it('name the referrer kind and namespace and the target, with a hash of all of it', () => {
    expect(suggestedGrantName(from, to('otel-logs'))).toMatch(/^allow-httplistenerpolicy-from-kgateway-to-service-otel-logs-[0-9a-f]{8}$/);
  });

  it('are stable: the same reference always gets the same name', () => {
    expect(suggestedGrantName({ ...from }, to('otel-logs'))).toBe(suggestedGrantName(from, to('otel-logs')));
  });

  it('differ for every field of the (from, to) pair, including what the readable part drops (group, case, dots)', () => {
    const base = suggestedGrantName(from, to('a.b'));
    const variants = [
      suggestedGrantName({ ...from, group: 'other.dev' }, to('a.b')),
      suggestedGrantName({ ...from, kind: 'httplistenerpolicy' }, to('a.b')),
      suggestedGrantName({ ...from, namespace: 'apps' }, to('a.b')),
      suggestedGrantName(from, to('a.b', { group: 'gateway.kgateway.dev' })),
      suggestedGrantName(from, to('a.b', { kind: 'Backend' })),
      suggestedGrantName(from, to('a-b')),
      suggestedGrantName(from, to('A.B')),
    ];
    expect(new Set([base, ...variants]).size).toBe(variants.length + 1);
  });

  it('stay valid object names for the longest inputs and odd characters', () => {
    const long = suggestedGrantName({ ...from, kind: 'K'.repeat(300), namespace: 'n'.repeat(63) }, to('x'.repeat(253), { kind: 'Kind_With.Dots' }));
    expect(long.length).toBeLessThanOrEqual(253);
    expect(long).toMatch(DNS_SUBDOMAIN);
    for (const name of ['-', '...', 'UPPER', 'with space', '_', 'ünïcode', '1234', 'on']) {
      const suggested = suggestedGrantName(from, to(name));
      expect(suggested, name).toMatch(DNS_SUBDOMAIN);
      expect(suggested.length).toBeLessThanOrEqual(253);
    }
    expect(suggestedGrantName(from, to('x'.repeat(253)), 17)).toMatch(/-[0-9a-f]{8}-17$/);
    expect(suggestedGrantName(from, to('x'.repeat(253)), 17).length).toBeLessThanOrEqual(253);
  });
});

describe('the suggested ReferenceGrant', () => {
  it('allows exactly the one reference', () => {
    const grant = suggestedReferenceGrant(from, to('otel-logs'), InMemoryClusterView.fromObjects([]));
    expect(grant).toEqual({
      apiVersion: 'gateway.networking.k8s.io/v1beta1',
      kind: 'ReferenceGrant',
      metadata: { name: suggestedGrantName(from, to('otel-logs')), namespace: 'monitoring' },
      spec: { from: [from], to: [{ group: '', kind: 'Service', name: 'otel-logs' }] },
    });
  });

  it('leaves a grant of its name that someone else made or changed alone, taking the next free name', () => {
    const name = suggestedGrantName(from, to('otel-logs'));
    const edited = referenceGrant({ name, to: [{ name: 'otel-traces' }] });
    const alsoTaken = referenceGrant({ name: suggestedGrantName(from, to('otel-logs'), 2), to: [{ name: 'other' }] });
    const view = InMemoryClusterView.fromObjects([edited, alsoTaken]);
    expect(suggestedReferenceGrant(from, to('otel-logs'), view).metadata?.name).toBe(suggestedGrantName(from, to('otel-logs'), 3));
    // Another namespace's grant of that name is no obstacle.
    const elsewhere = InMemoryClusterView.fromObjects([referenceGrant({ name, namespace: 'apps' })]);
    expect(suggestedReferenceGrant(from, to('otel-logs'), elsewhere).metadata?.name).toBe(name);
  });
});
