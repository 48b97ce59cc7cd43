/**
 * The one vocabulary of findings: each rule has one id, and each kind of
 * finding one severity, in every command (`check`, `audit`), every format
 * (text, JSON, SARIF, JUnit, GitHub, HTML, policyreport) and in the
 * in-cluster Reports. A rename happens here and nowhere else.
 */
export const RULE_IDS = {
  /** Admission rules (their Rule.name). */
  crossNamespaceBackendRefs: 'cross-namespace-backend-refs',
  gatewayParametersRef: 'gateway-parameters-ref',
  referenceGrantGuard: 'reference-grant-guard',
  /** A kind the profile's release deprecates (HTTPListenerPolicy on kgateway 2.4): admitted with a warning. */
  deprecatedKind: 'deprecated-kind',
  /** A kind at an API version the rules cannot read. */
  unknownApiVersion: 'unknown-api-version',
  /** `check` input that cannot be read as an object, or at all. */
  invalidManifest: 'invalid-manifest',
  unreadableFile: 'unreadable-file',
} as const;
export type RuleId = (typeof RULE_IDS)[keyof typeof RULE_IDS];

/** error: admission denies it (or it cannot be read); warning: admission admits it with a warning. */
export type Severity = 'error' | 'warning';

/** What `audit` finds in a cluster, finer than the rule that finds it. */
export type AuditProblem = 'ungranted-reference' | 'missing-parametersRef' | 'class-parametersRef' | 'missing-parameters';

const PROBLEM_RULE: Record<AuditProblem, RuleId> = {
  'ungranted-reference': RULE_IDS.crossNamespaceBackendRefs,
  'missing-parametersRef': RULE_IDS.gatewayParametersRef,
  'missing-parameters': RULE_IDS.gatewayParametersRef,
  'class-parametersRef': RULE_IDS.gatewayParametersRef,
};

export function auditProblemRule(problem: AuditProblem): RuleId {
  return PROBLEM_RULE[problem];
}

/**
 * The severity of an audit finding, as `check` gives the same object: an
 * ungranted ref is an error where admission denies it and a warning in a
 * warn-mode namespace; a missing parameters object is admitted with a
 * warning; a Gateway left alone for its class's parametersRef is one too. A
 * Gateway without its parametersRef is an error: the webhook would have
 * added it, so the cluster holds one it never saw.
 */
export function auditProblemSeverity(problem: AuditProblem, enforcement?: 'deny' | 'warn'): Severity {
  switch (problem) {
    case 'ungranted-reference':
      return enforcement === 'warn' ? 'warning' : 'error';
    case 'missing-parametersRef':
      return 'error';
    case 'missing-parameters':
    case 'class-parametersRef':
      return 'warning';
  }
}
