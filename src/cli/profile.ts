import type { Config } from '../config/config.js';
import { DEFAULT_PROFILE, type ProfileName } from '../rules/profiles.js';
import { CommandError } from './usage.js';

export interface ResolvedProfile {
  profile: ProfileName;
  /** Where it came from, for the start-up log. */
  from: 'flag' | 'config' | 'cluster' | 'default';
}

/**
 * The profile every command runs with: --profile, else the config's
 * `profile:`, else, with a cluster to ask (`detect`), the one its CRDs call
 * for, else the default. A cluster that cannot be asked is the command's
 * error (exit status 2).
 */
export async function resolveProfile(
  command: string,
  flag: ProfileName | undefined,
  config: Pick<Config, 'profile'>,
  detect?: () => Promise<ProfileName>,
): Promise<ResolvedProfile> {
  if (flag) return { profile: flag, from: 'flag' };
  if (config.profile) return { profile: config.profile, from: 'config' };
  if (!detect) return { profile: DEFAULT_PROFILE, from: 'default' };
  try {
    return { profile: await detect(), from: 'cluster' };
  } catch (error) {
    throw new CommandError(`${command}: ${(error as Error).message}`);
  }
}
