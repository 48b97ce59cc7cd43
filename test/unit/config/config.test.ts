import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig, ruleSettings, watchedReferrerKinds } from '../../../src/config/config.js';

describe('config', () => {
  it('fills every default', () => {
    expect(parseConfig({})).toEqual({
      mutation: {
        gatewayClassNames: ['agentgateway'],
        parametersRef: { name: 'agentgateway-otel' },
        classParameters: 'auto',
        copyParameters: { enabled: false },
      },
      validation: { backendRefKinds: [], scanKinds: [], grantGuard: 'warn', enforcement: 'deny', missingParametersWarning: true },
      server: { host: '127.0.0.1', port: 8443, metricsPort: 9090, bodyLimitBytes: 3145728, keepAliveTimeoutMs: 120000, handshakeTimeoutMs: 10000, headersTimeoutMs: 10000, requestTimeoutMs: 10000, maxConnections: 1000, drainTimeoutMs: 5000, staleAfterSeconds: 300 },
      logLevel: 'info',
    });
  });

  it.each<[string, unknown, string]>([
    ['an unknown top-level field', { mutations: {} }, 'mutations: unknown field'],
    ['an unknown nested field', { server: { prot: 1 } }, 'server.prot: unknown field'],
    ['a wrong type', { server: { port: 'x' } }, 'server.port: must be integer'],
    ['a port out of range', { server: { port: 70000 } }, 'server.port: must be <= 65535'],
    ['a bad parametersRef name', { mutation: { parametersRef: { name: 'Not_Valid' } } }, 'mutation.parametersRef.name: must match pattern'],
    ['a bad log level', { logLevel: 'loud' }, 'logLevel: must be one of'],
    ['a bad backendRef path', { validation: { backendRefKinds: [{ group: 'g', kind: 'K', paths: ['spec..x'] }] } }, 'validation.backendRefKinds.0.paths.0: must match pattern'],
  ])('names the field of %s', (_name, document, message) => {
    expect(() => parseConfig(document, 'c.yaml')).toThrow(ConfigError);
    expect(() => parseConfig(document, 'c.yaml')).toThrow(message);
  });

  it('appends configured backendRef kinds to the built-in table', () => {
    const settings = ruleSettings(parseConfig({ validation: { backendRefKinds: [{ group: 'example.com', kind: 'Thing', paths: ['spec.backendRef'] }] } }));
    expect(settings.backendRefKinds.map((k) => k.kind)).toEqual([
      'HTTPListenerPolicy',
      'ListenerPolicy',
      'GatewayExtension',
      'AgentgatewayPolicy',
      'AgentgatewayBackend',
      'Thing',
    ]);
  });

  it.each<[string, unknown, string | undefined, object]>([
    ['no profile: kgateway-v2.1', {}, undefined, { gatewayControllerNames: ['kgateway.dev/agentgateway'], parametersRef: { group: 'gateway.kgateway.dev', kind: 'GatewayParameters', name: 'agentgateway-otel' } }],
    [
      'profile agentgateway-v2.2 in the file',
      { profile: 'agentgateway-v2.2' },
      undefined,
      { gatewayControllerNames: ['agentgateway.dev/agentgateway', 'kgateway.dev/agentgateway'], parametersRef: { group: 'agentgateway.dev', kind: 'AgentgatewayParameters', name: 'agentgateway-otel' } },
    ],
    ['the command line wins over the file', { profile: 'agentgateway-v2.2' }, 'kgateway-v2.1', { parametersRef: { group: 'gateway.kgateway.dev', kind: 'GatewayParameters', name: 'agentgateway-otel' } }],
    [
      'explicit settings win over the profile',
      { profile: 'agentgateway-v2.2', mutation: { gatewayControllerNames: ['x/y'], parametersRef: { kind: 'Custom', name: 'p' } } },
      undefined,
      { gatewayControllerNames: ['x/y'], parametersRef: { group: 'agentgateway.dev', kind: 'Custom', name: 'p' } },
    ],
  ])('profiles: %s', (_name, document, override, expected) => {
    expect(ruleSettings(parseConfig(document), override as never)).toMatchObject(expected);
  });

  it.each<[string, 'auto' | 'skip' | 'add', 'skip' | 'add']>([
    ['kgateway-v2.1', 'auto', 'skip'],
    ['agentgateway-v2.2', 'auto', 'add'],
    ['kgateway-v2.1', 'add', 'add'],
    ['agentgateway-v2.2', 'skip', 'skip'],
  ])('profile %s, mutation.classParameters %s: %s', (profile, classParameters, expected) => {
    expect(ruleSettings(parseConfig({ profile, mutation: { classParameters } })).classParameters).toBe(expected);
  });

  it('refuses an unknown mutation.classParameters', () => {
    expect(() => parseConfig({ mutation: { classParameters: 'merge' } })).toThrow('mutation.classParameters: must be one of auto, skip, add');
  });

  it('refuses an unknown profile', () => {
    expect(() => parseConfig({ profile: 'kgateway-v9' })).toThrow('profile: must be one of kgateway-v2.1, agentgateway-v2.2');
  });

  it('loads YAML files and explains unreadable ones', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kga-config-'));
    await writeFile(join(dir, 'ok.yaml'), 'logLevel: warn\nmutation:\n  gatewayClassNames: [ai]\n');
    const config = await loadConfig(join(dir, 'ok.yaml'));
    expect(config.logLevel).toBe('warn');
    expect(config.mutation.gatewayClassNames).toEqual(['ai']);
    await writeFile(join(dir, 'bad.yaml'), 'a: [');
    await expect(loadConfig(join(dir, 'bad.yaml'))).rejects.toThrow(/is not valid YAML/);
    await expect(loadConfig(join(dir, 'none.yaml'))).rejects.toThrow(/cannot read config file .*none\.yaml: ENOENT/);
  });
});

describe('watchedReferrerKinds', () => {
  it('watches the kinds with backendRefs only for the grant guard: none when it is off', () => {
    const on = watchedReferrerKinds(ruleSettings(parseConfig({})));
    expect(on.map((k) => k.kind)).toEqual(['HTTPListenerPolicy', 'ListenerPolicy', 'GatewayExtension', 'AgentgatewayPolicy', 'AgentgatewayBackend']);
    expect(watchedReferrerKinds(ruleSettings(parseConfig({ validation: { grantGuard: 'off' } })))).toEqual([]);
    expect(watchedReferrerKinds(ruleSettings(parseConfig({ validation: { grantGuard: 'deny' } })))).toHaveLength(5);
  });

  it('adds config rows and scanKinds once each', () => {
    const kinds = watchedReferrerKinds(
      ruleSettings(parseConfig({ validation: { backendRefKinds: [{ group: 'x.dev', kind: 'A', paths: ['spec.backendRef'] }], scanKinds: [{ group: 'x.dev', kind: 'A' }, { group: 'x.dev', kind: 'B' }] } })),
    );
    expect(kinds.filter((k) => k.group === 'x.dev')).toEqual([{ group: 'x.dev', kind: 'A' }, { group: 'x.dev', kind: 'B' }]);
  });
});
