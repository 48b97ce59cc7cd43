import { describe, expect, it } from 'vitest';
import { groupOf, namespaceOf } from '../../../src/rules/objectRequest.js';

describe('groupOf', () => {
  it.each([
    ['gateway.networking.k8s.io/v1', 'gateway.networking.k8s.io'],
    ['v1', ''],
    [undefined, ''],
    [7, ''],
  ])('%s -> %j', (apiVersion, group) => {
    expect(groupOf(apiVersion)).toBe(group);
  });
});

describe('namespaceOf', () => {
  it("takes the object's namespace, else the fallback, else default", () => {
    expect(namespaceOf({ metadata: { namespace: 'apps' } }, 'request')).toBe('apps');
    expect(namespaceOf({ metadata: { namespace: '' } }, 'request')).toBe('request');
    expect(namespaceOf({ metadata: {} })).toBe('default');
    expect(namespaceOf(null, '')).toBe('default');
    expect(namespaceOf(undefined)).toBe('default');
  });
});
