import { describe, expect, it } from 'vitest';
import { ReferenceGrantIndex } from '../../../src/cluster/referenceGrantIndex.js';
import { referenceGrant } from '../../support/builders.js';

const from = { group: 'gateway.kgateway.dev', kind: 'HTTPListenerPolicy', namespace: 'kgateway' };
const to = { group: '', kind: 'Service', namespace: 'monitoring', name: 'otel-collector-collector' };

describe('ReferenceGrantIndex', () => {
  it('follows upserts, replacements and removals', () => {
    const index = new ReferenceGrantIndex();
    expect(index.isGranted(from, to)).toBe(false);
    index.upsert('monitoring', 'g', referenceGrant().spec);
    expect(index.isGranted(from, to)).toBe(true);
    expect(index.size).toBe(1);
    index.upsert('monitoring', 'g', referenceGrant({ to: [{ name: 'other' }] }).spec);
    expect(index.isGranted(from, to)).toBe(false);
    expect(index.size).toBe(1);
    index.upsert('monitoring', 'h', referenceGrant().spec);
    expect(index.isGranted(from, to)).toBe(true);
    index.remove('monitoring', 'h');
    expect(index.isGranted(from, to)).toBe(false);
    index.remove('monitoring', 'h');
    expect(index.size).toBe(1);
  });

  it('ignores malformed entries instead of throwing', () => {
    const index = new ReferenceGrantIndex();
    index.upsert('monitoring', 'bad', { from: 'x', to: [null, 1, { kind: 5 }] });
    index.upsert('monitoring', 'worse', null);
    expect(index.isGranted(from, to)).toBe(false);
    expect(index.size).toBe(2);
  });

  it('shares repeated from lists between grants without letting one grant change another', () => {
    const index = new ReferenceGrantIndex();
    index.upsert('monitoring', 'a', referenceGrant({ to: [{ name: 'a' }] }).spec);
    index.upsert('monitoring', 'b', referenceGrant({ to: [{ name: 'b' }] }).spec);
    const a = index.grantsIn('monitoring').get('a')!;
    const b = index.grantsIn('monitoring').get('b')!;
    expect(a.from).toBe(b.from);
    expect(Object.isFrozen(a.from)).toBe(true);
    expect(() => (a.from as unknown[]).push({})).toThrow();
    index.upsert('monitoring', 'a', referenceGrant({ from: [{ namespace: 'elsewhere' }], to: [{ name: 'a' }] }).spec);
    expect(index.isGranted(from, { ...to, name: 'b' })).toBe(true);
    expect(index.isGranted(from, { ...to, name: 'a' })).toBe(false);
    expect(index.isGranted({ ...from, namespace: 'elsewhere' }, { ...to, name: 'a' })).toBe(true);
  });
});
