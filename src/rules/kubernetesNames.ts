// The name formats of k8s.io/apimachinery/pkg/util/validation (IsDNS1123Label,
// IsDNS1123Subdomain), which the API server applies to every namespace and to
// the names of most kinds.

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A namespace name: an RFC 1123 label, at most 63 characters. */
export function isNamespaceName(value: string): boolean {
  return value.length <= 63 && DNS1123_LABEL.test(value);
}

/** An object name: an RFC 1123 subdomain, at most 253 characters (Service names are the stricter label). */
export function isObjectName(value: string): boolean {
  return value.length <= 253 && DNS1123_SUBDOMAIN.test(value);
}

// Gateway API's Group and Kind (apis/v1/shared_types.go), the formats of a
// ReferenceGrant's `to` entries: a backendRef whose group or kind is neither
// can never be granted, nor name an object.
const KIND = /^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;

/** An API group: empty (core) or an RFC 1123 subdomain, at most 253 characters. */
export function isGroupName(value: string): boolean {
  return value === '' || isObjectName(value);
}

/** A kind: at most 63 letters, digits or '-', starting with a letter and ending with a letter or digit. */
export function isKindName(value: string): boolean {
  return value.length <= 63 && KIND.test(value);
}

/** A value from a request, quoted and cut short for a message. */
export function quoted(value: string, max = 80): string {
  return JSON.stringify(value.length > max ? `${value.slice(0, max)}…` : value);
}
