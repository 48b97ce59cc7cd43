import { describe, expect, it } from 'vitest';
import { compilePath, valuesAt } from '../../../src/rules/objectPaths.js';
import { allowed, combine, denied, patched, withWarnings } from '../../../src/rules/verdicts.js';

describe('verdict helpers', () => {
  it('build exact objects', () => {
    expect(allowed()).toEqual({ allowed: true, patch: [], warnings: [] });
    expect(denied('no')).toEqual({ allowed: false, message: 'no', code: 403, patch: [], warnings: [] });
    expect(patched([{ op: 'add', path: '/a', value: 1 }])).toEqual({ allowed: true, patch: [{ op: 'add', path: '/a', value: 1 }], warnings: [] });
    expect(withWarnings(allowed(), 'w1', 'w2')).toEqual({ allowed: true, patch: [], warnings: ['w1', 'w2'] });
  });

  it('combine: any denial wins and keeps every message and warning; patches concatenate', () => {
    const a = patched([{ op: 'add', path: '/a', value: 1 }]);
    const b = withWarnings(patched([{ op: 'add', path: '/b', value: 2 }]), 'w');
    expect(combine([a, b])).toEqual({ allowed: true, patch: [...a.patch, ...b.patch], warnings: ['w'] });
    expect(combine([a, denied('one'), withWarnings(denied('two', 503), 'w')])).toEqual({
      allowed: false,
      message: 'one\ntwo',
      code: 503,
      patch: [],
      warnings: ['w'],
      reason: 'one; two',
    });
  });

  it('combine: a warned verdict stays warned beside plain allows, and a denial beside it wins', () => {
    const warned = { ...withWarnings(allowed(), 'ref'), warned: true, reason: 'no ReferenceGrant allows x' };
    expect(combine([allowed(), warned])).toEqual({ allowed: true, patch: [], warnings: ['ref'], warned: true, reason: 'no ReferenceGrant allows x' });
    expect(combine([warned, { ...denied('too deep'), reason: 'too deep' }])).toEqual({
      allowed: false,
      message: 'too deep',
      code: 403,
      patch: [],
      warnings: ['ref'],
      reason: 'too deep',
    });
  });
});

describe('object paths', () => {
  it('visit fields and every array item, naming the concrete location', () => {
    const object = { spec: { list: [{ ref: { n: 1 } }, {}, { ref: { n: 3 } }], one: { ref: 'x' } } };
    expect(valuesAt(object, compilePath('spec.list[].ref'))).toEqual([
      { value: { n: 1 }, location: 'spec.list[0].ref' },
      { value: { n: 3 }, location: 'spec.list[2].ref' },
    ]);
    expect(valuesAt(object, compilePath('spec.one.ref'))).toEqual([{ value: 'x', location: 'spec.one.ref' }]);
    expect(valuesAt({ spec: { list: 'not an array' } }, compilePath('spec.list[].ref'))).toEqual([]);
    expect(valuesAt(null, compilePath('spec'))).toEqual([]);
  });

  it('refuse a malformed path', () => {
    expect(() => compilePath('spec..x')).toThrow(/invalid path/);
    expect(() => compilePath('spec.a[0]')).toThrow(/invalid path/);
  });
});
