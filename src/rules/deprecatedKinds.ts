import type { Rule } from './rule.js';
import type { RuleSettings } from './settings.js';
import type { Operation } from './types.js';
import { allowed, withWarnings } from './verdicts.js';

/**
 * Admits an object of a kind its release deprecates with a warning naming the
 * replacement (the profile's deprecatedKinds: kgateway 2.4 deprecates
 * HTTPListenerPolicy for ListenerPolicy, and its main branch removes it), so
 * that nobody builds on a kind the next upgrade drops.
 */
export function deprecatedKindRule(settings: Pick<RuleSettings, 'deprecatedKinds'>): Rule {
  const operations: readonly Operation[] = ['CREATE', 'UPDATE'];
  const warnings = new Map(settings.deprecatedKinds.map((d) => [`${d.group}/${d.kind}`, d.warning]));
  return {
    name: 'deprecated-kind',
    operations,
    handles: (request) => operations.includes(request.operation) && warnings.has(`${request.kind.group}/${request.kind.kind}`),
    decide: (request) => withWarnings(allowed(), warnings.get(`${request.kind.group}/${request.kind.kind}`)!),
  };
}
