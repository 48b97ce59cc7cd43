import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { goYamlV2ReadsAsNonString, kubectlYaml } from '../../../src/rules/kubectlYaml.js';
import { GO_ONLY_NON_STRINGS, YAML_11_NON_STRINGS } from '../../support/yaml11Words.js';

/** Names of every kind Kubernetes lets a namespace, Service or object have, and what a ref may hold. */
const nameArb = fc.oneof(
  fc.constantFrom(...YAML_11_NON_STRINGS, ...GO_ONLY_NON_STRINGS),
  fc.stringMatching(/^[a-z0-9]([-a-z0-9.]{0,10}[a-z0-9])?$/),
  fc.string({ unit: fc.constantFrom(...'0123456789abcdefxob.-+_:eEyYnN~ '), maxLength: 8 }),
  fc.string({ maxLength: 12 }),
);

const grantWith = (namespace: string, name: string) => ({
  apiVersion: 'gateway.networking.k8s.io/v1beta1',
  kind: 'ReferenceGrant',
  metadata: { name, namespace },
  spec: { from: [{ group: '', kind: 'Service', namespace }], to: [{ group: '', kind: 'Service', name }] },
});

describe('YAML for kubectl', () => {
  it.each([...YAML_11_NON_STRINGS, ...GO_ONLY_NON_STRINGS])('quotes %j, which a YAML 1.1 reader or go-yaml v2 takes for something else', (word) => {
    const text = kubectlYaml({ name: word });
    expect(text).toMatch(/^name: ["']/);
    expect(parse(text, { version: '1.1' })).toEqual({ name: word });
  });

  it('leaves ordinary names plain', () => {
    expect(kubectlYaml({ name: 'otel-logs', group: 'gateway.kgateway.dev', kind: 'Service', port: 'x1' })).toBe('name: otel-logs\ngroup: gateway.kgateway.dev\nkind: Service\nport: x1\n');
  });

  it('reads back as the same object under YAML 1.1 and 1.2, whatever the names (property)', () => {
    fc.assert(
      fc.property(nameArb, nameArb, (namespace, name) => {
        const object = grantWith(namespace, name);
        const text = kubectlYaml(object);
        expect(parse(text, { version: '1.1' })).toEqual(object);
        expect(parse(text, { version: '1.2' })).toEqual(object);
        // No scalar is left plain that go-yaml v2 would read as other than a string.
        for (const line of text.split('\n')) {
          const plain = /^\s*(?:- )?[a-zA-Z]+: (.*)$/.exec(line)?.[1];
          if (plain !== undefined && !/^["']/.test(plain)) expect(goYamlV2ReadsAsNonString(plain), line).toBe(false);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('knows go-yaml v2 reads Go number forms that YAML 1.1 does not have', () => {
    for (const word of GO_ONLY_NON_STRINGS) expect(goYamlV2ReadsAsNonString(word), word).toBe(true);
    for (const word of ['otel-logs', '1234abc', 'a1', '0x', '1-2', '_1', 'e3', '1.2.3']) expect(goYamlV2ReadsAsNonString(word), word).toBe(false);
  });
});
