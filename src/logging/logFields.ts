/**
 * Log fields taken from a request. Past the envelope's schema, the object's
 * name and namespace are whatever the client sent: a 2 MB string, an object
 * (which pino would write out as nested JSON), a number. Anyone who reaches
 * the port could fill the log through them, so a field is a string cut to
 * the longest valid Kubernetes name (a DNS subdomain, 253 characters), or a
 * marker of what else it was.
 */
export const MAX_LOGGED_NAME_LENGTH = 253;

export function loggedName(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value.length > MAX_LOGGED_NAME_LENGTH ? `${value.slice(0, MAX_LOGGED_NAME_LENGTH)}…` : value;
  return `<${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}>`;
}
