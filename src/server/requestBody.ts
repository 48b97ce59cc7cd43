import { errorCodes } from 'fastify';
import type { Endpoint } from '../admission/admissionEngine.js';

/** The reason sent for a body that is not valid JSON (Fastify's fixed message: a reason never echoes the body). */
export const INVALID_JSON_REASON = `request body is not valid JSON: ${new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY().message}`;

/**
 * application/json as plain JSON.parse, or undefined for a body that is not
 * JSON. Fastify's default parser (secure-json-parse: JSON.parse plus two regex
 * scans of the text for "__proto__" and "constructor" keys; its cost:
 * bench/README.md, "What changed in src/ because of this bench") guards code
 * that merges a parsed body into other objects; the review is only read here,
 * never merged or assigned from, so the scans buy nothing. A leading BOM is
 * skipped, as Fastify's parser does.
 */
export function parseJsonBody(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text) };
  } catch {
    return { ok: false };
  }
}

/**
 * The admission endpoint a request URL is for: /mutate or /validate, with or
 * without a query (the API server appends `?timeout=<the webhook's
 * timeoutSeconds>s`); undefined for any other path.
 */
export function endpointOfUrl(url: string): Endpoint | undefined {
  const query = url.indexOf('?');
  const path = query < 0 ? url : url.slice(0, query);
  return path === '/mutate' ? 'mutate' : path === '/validate' ? 'validate' : undefined;
}
