// Whether the mutating webhook answered a Gateway write. It adds the
// parametersRef where the parameters object sits in the Gateway's namespace;
// where it does not, it leaves the Gateway untouched with its warning (the
// deployers refuse a ref to a missing object). Either shows the webhook was
// called; tests that only need that use this.
// The server cuts a warning past 120 characters with …: a long namespace or
// name may lose the end of the sentence, never its start.
export const NOT_ADDED_WARNING = /^parametersRef not added: create \S+ \S+(, then re-apply the Gateway$|…$|,)/;

export function mutatingWebhookAnswered(res: { status: number; body: any; warnings: string[] }): boolean {
  if (res.status !== 201 && res.status !== 200) return false;
  return Boolean(res.body?.spec?.infrastructure?.parametersRef) || res.warnings.some((w) => NOT_ADDED_WARNING.test(w));
}

/** The kind the ref names, or the kind the warning says is missing. */
export function parametersKindAnswered(res: { body: any; warnings: string[] }): string | undefined {
  const kind = res.body?.spec?.infrastructure?.parametersRef?.kind;
  if (typeof kind === 'string') return kind;
  const warning = res.warnings.find((w) => NOT_ADDED_WARNING.test(w));
  return warning?.split(' ')[4];
}
