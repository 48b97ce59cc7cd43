import type { JsonPatchOperation, Verdict } from './types.js';

// Small named constructors, in the manner of controller-runtime's
// webhook/admission/response.go, so every rule builds results the same way.

export function allowed(): Verdict {
  return { allowed: true, patch: [], warnings: [] };
}

export function denied(message: string, code = 403): Verdict {
  return { allowed: false, message, code, patch: [], warnings: [] };
}

/**
 * A request that could not be decided (controller-runtime's `Errored`): not
 * admitted, with a server-side code (500, or 503 while not ready) so that it
 * reads as a fault, not a policy decision.
 */
export function errored(message: string, code = 500): Verdict {
  return denied(message, code);
}

export function patched(patch: JsonPatchOperation[]): Verdict {
  return { allowed: true, patch, warnings: [] };
}

export function withWarnings(verdict: Verdict, ...warnings: string[]): Verdict {
  return { ...verdict, warnings: [...verdict.warnings, ...warnings] };
}

/**
 * Folds several verdicts into one: any denial wins and every denial message is
 * kept (cert-manager's chain collects every error, not just the first);
 * patches and warnings concatenate (controller-runtime's multi.go).
 */
export function combine(verdicts: readonly Verdict[]): Verdict {
  const denials = verdicts.filter((v) => !v.allowed);
  const warnings = verdicts.flatMap((v) => v.warnings);
  if (denials.length > 0) {
    const code = Math.max(...denials.map((d) => d.code ?? 403));
    const reasons = denials.map((d) => d.reason ?? d.message ?? 'denied');
    const suggestions = denials.flatMap((d) => d.suggestions ?? []);
    return {
      allowed: false,
      message: denials.map((d) => d.message ?? 'denied').join('\n'),
      code,
      patch: [],
      warnings,
      reason: reasons.join('; '),
      ...(suggestions.length > 0 ? { suggestions } : {}),
    };
  }
  const warned = verdicts.filter((v) => v.warned);
  const wouldDeny = warned.filter((v) => v.message !== undefined);
  const suggestions = warned.flatMap((v) => v.suggestions ?? []);
  return {
    allowed: true,
    patch: verdicts.flatMap((v) => v.patch),
    warnings,
    ...(warned.length > 0 ? { warned: true, reason: warned.map((v) => v.reason ?? '').filter(Boolean).join('; ') } : {}),
    // What deny mode would say of the warned ones (audit and check report it).
    ...(wouldDeny.length > 0 ? { message: wouldDeny.map((v) => v.message).join('\n') } : {}),
    ...(suggestions.length > 0 ? { suggestions } : {}),
  };
}
