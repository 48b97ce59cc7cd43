import { readFile } from 'node:fs/promises';
import { Ajv, type ErrorObject } from 'ajv';
import { parse } from 'yaml';
import { builtInBackendRefKinds } from '../rules/backendRefKinds.js';
import type { Enforcement } from '../rules/enforcement.js';
import type { GrantModes } from '../rules/grantModes.js';
import type { RuleSettings } from '../rules/settings.js';
import schema from './config.schema.json' with { type: 'json' };
import type { ServerSettings } from './serverSettings.js';
import { DEFAULT_PROFILE, PROFILES, type ProfileName } from '../rules/profiles.js';

export interface Config {
  profile?: ProfileName;
  mutation: {
    gatewayClassNames: string[];
    gatewayControllerNames?: string[];
    parametersRef: { group?: string; kind?: string; name: string };
    classParameters: 'auto' | 'skip' | 'add';
    copyParameters: { enabled: boolean; sourceNamespace?: string };
  };
  validation: {
    backendRefKinds: { group: string; kind: string; paths: string[] }[];
    scanKinds: { group: string; kind: string }[];
    grantGuard: 'warn' | 'deny' | 'off';
    enforcement: Enforcement;
    grantModes: GrantModes;
    missingParametersWarning: boolean;
  };
  server: ServerSettings & {
    staleAfterSeconds: number;
  };
  logLevel: string;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true });
const validateConfig = ajv.compile<Config>(schema);

function describe(error: ErrorObject): string {
  const at = error.instancePath === '' ? '(top level)' : error.instancePath.slice(1).replaceAll('/', '.');
  if (error.keyword === 'additionalProperties') {
    const field = (error.params as { additionalProperty: string }).additionalProperty;
    const where = error.instancePath === '' ? '' : `${at}.`;
    return `${where}${field}: unknown field`;
  }
  if (error.keyword === 'enum') {
    return `${at}: must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
  }
  return `${at}: ${error.message ?? 'is invalid'}`;
}

/** Validates a parsed config document and fills in every default. */
export function parseConfig(document: unknown, source = 'config'): Config {
  const value = document === null || document === undefined ? {} : structuredClone(document);
  if (!validateConfig(value)) {
    const problems = (validateConfig.errors ?? []).map(describe);
    throw new ConfigError(`${source} is invalid:\n  ${[...new Set(problems)].join('\n  ')}`);
  }
  // Node refuses a headers timeout longer than the request timeout.
  if (value.server.headersTimeoutMs > value.server.requestTimeoutMs) {
    throw new ConfigError(`${source} is invalid:\n  server.headersTimeoutMs: must be at most server.requestTimeoutMs (${value.server.requestTimeoutMs})`);
  }
  return value;
}

export async function loadConfig(file?: string): Promise<Config> {
  if (!file) return parseConfig({});
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read config file ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  let document: unknown;
  try {
    document = parse(text);
  } catch (error) {
    throw new ConfigError(`config file ${file} is not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  return parseConfig(document, file);
}

/** The profile in force: the command line's, else the config file's, else the default. */
export function profileOf(config: Config, override?: ProfileName): ProfileName {
  return override ?? config.profile ?? DEFAULT_PROFILE;
}

/**
 * What the rules need, with every profile-dependent value not set in the
 * config taken from the profile. `ownNamespace` is where the webhook runs: the
 * default namespace of the parameters object copied (mutation.copyParameters).
 */
export function ruleSettings(config: Config, profileOverride?: ProfileName, ownNamespace = 'default'): RuleSettings {
  const profile = PROFILES[profileOf(config, profileOverride)];
  const copies = config.mutation.copyParameters;
  return {
    gatewayClassNames: config.mutation.gatewayClassNames,
    gatewayControllerNames: config.mutation.gatewayControllerNames ?? [...profile.gatewayControllerNames],
    parametersRef: {
      group: config.mutation.parametersRef.group ?? profile.parametersRef.group,
      kind: config.mutation.parametersRef.kind ?? profile.parametersRef.kind,
      name: config.mutation.parametersRef.name,
    },
    classParameters: config.mutation.classParameters === 'auto' ? profile.classParameters : config.mutation.classParameters,
    backendRefKinds: [...builtInBackendRefKinds, ...config.validation.backendRefKinds],
    scanKinds: config.validation.scanKinds,
    grantGuard: config.validation.grantGuard,
    grantModes: config.validation.grantModes,
    enforcement: config.validation.enforcement,
    missingParametersWarning: config.validation.missingParametersWarning,
    deprecatedKinds: 'deprecatedKinds' in profile ? profile.deprecatedKinds : [],
    ...(copies.enabled ? { copyParameters: { sourceNamespace: copies.sourceNamespace ?? ownNamespace } } : {}),
  };
}
