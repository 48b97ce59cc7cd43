// The profile every command runs with, decided in one place: --profile, then
// the config's profile:, then the cluster's CRDs when there is a cluster to
// ask, then the default.
import { describe, expect, it } from 'vitest';
import { resolveProfile } from '../../../src/cli/profile.js';
import { CommandError } from '../../../src/cli/usage.js';
import { DEFAULT_PROFILE } from '../../../src/rules/profiles.js';

const unreachable = async (): Promise<never> => {
  throw new Error('cannot tell the profile from the cluster\'s CRDs: connect ECONNREFUSED');
};

describe('resolveProfile', () => {
  it('takes --profile over the config, and asks no cluster', async () => {
    expect(await resolveProfile('serve', 'agentgateway-v2.2', { profile: 'kgateway-v2.1' }, unreachable)).toEqual({ profile: 'agentgateway-v2.2', from: 'flag' });
  });

  it('takes the config\'s profile: without --profile, and asks no cluster', async () => {
    expect(await resolveProfile('audit', undefined, { profile: 'agentgateway-v2.2' }, unreachable)).toEqual({ profile: 'agentgateway-v2.2', from: 'config' });
  });

  it('asks the cluster when neither names one', async () => {
    expect(await resolveProfile('serve', undefined, {}, async () => 'agentgateway-v2.2')).toEqual({ profile: 'agentgateway-v2.2', from: 'cluster' });
  });

  it('falls back to the default with no cluster to ask (check)', async () => {
    expect(await resolveProfile('check', undefined, {})).toEqual({ profile: DEFAULT_PROFILE, from: 'default' });
  });

  it('a cluster that cannot be asked is the command\'s error, named after it', async () => {
    const failure = resolveProfile('audit', undefined, {}, unreachable);
    await expect(failure).rejects.toThrow(CommandError);
    await expect(failure).rejects.toThrow(/^audit: cannot tell the profile/);
  });
});
