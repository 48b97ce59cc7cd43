import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig, ruleSettings } from '../../../src/config/config.js';

// Every kind with a site a controller may check, in all releases of the
// matrix (src/rules/generated/referenceSites.ts), in the table's order.
const BUILT_IN_KINDS = ['AgentgatewayBackend', 'AgentgatewayModel', 'AgentgatewayPolicy', 'GatewayExtension', 'HTTPListenerPolicy', 'ListenerPolicy', 'TrafficPolicy'];

describe('config', () => {
  it('fills every default', () => {
    expect(parseConfig({})).toEqual({
      mutation: {
        gatewayClassNames: ['agentgateway'],
        parametersRef: { name: 'agentgateway-otel' },
        classParameters: 'auto',
        copyParameters: { enabled: false },
      },
      validation: { backendRefKinds: [], scanKinds: [], grantGuard: 'warn', enforcement: 'deny', grantModes: { kgateway: 'PERMISSIVE', agentgateway: 'route-and-policy' }, missingParametersWarning: true },
      server: { host: '127.0.0.1', port: 8443, metricsPort: 9090, bodyLimitBytes: 3145728, keepAliveTimeoutMs: 120000, handshakeTimeoutMs: 10000, headersTimeoutMs: 10000, requestTimeoutMs: 10000, maxConnections: 1000, maxConnectionsPerSource: 250, nonAdmissionIdleTimeoutMs: 5000, drainTimeoutMs: 5000, metricsTls: false, staleAfterSeconds: 300 },
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
    expect(settings.backendRefKinds.map((k) => k.kind)).toEqual([...BUILT_IN_KINDS, 'Thing']);
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

