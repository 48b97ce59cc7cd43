import { Ajv } from 'ajv';
import type { AdmissionRequest, Verdict } from '../rules/types.js';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; message: string; reason?: string };
  patchType?: 'JSONPatch';
  patch?: string;
  warnings?: string[];
}

export interface AdmissionReviewResponse {
  apiVersion: string;
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

export type DecodedReview =
  | { ok: true; apiVersion: string; request: AdmissionRequest }
  | { ok: false; uid: string; reason: string };

// Only what the decision depends on is checked; the API server adds request
// fields over time (requestKind, options, …) and those must not be refused.
const reviewSchema = {
  type: 'object',
  required: ['apiVersion', 'kind', 'request'],
  properties: {
    apiVersion: { const: ADMISSION_API_VERSION },
    kind: { const: 'AdmissionReview' },
    request: {
      type: 'object',
      required: ['uid', 'kind', 'operation'],
      properties: {
        uid: { type: 'string', minLength: 1, maxLength: 256 },
        kind: {
          type: 'object',
          required: ['group', 'version', 'kind'],
          properties: {
            group: { type: 'string' },
            version: { type: 'string' },
            kind: { type: 'string', minLength: 1 },
          },
        },
        operation: { enum: ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'] },
        namespace: { type: 'string' },
        name: { type: 'string' },
        object: { type: ['object', 'null'] },
        oldObject: { type: ['object', 'null'] },
        dryRun: { type: 'boolean' },
      },
    },
  },
} as const;

const ajv = new Ajv({ allErrors: false, strict: false });
const validateReview = ajv.compile(reviewSchema);

function uidOf(body: unknown): string {
  const uid = (body as { request?: { uid?: unknown } } | null)?.request?.uid;
  return typeof uid === 'string' ? uid.slice(0, 256) : '';
}

/** Checks the envelope of a parsed body and returns the request, or why it is not one. */
export function decodeAdmissionReview(body: unknown): DecodedReview {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, uid: '', reason: 'body is not an AdmissionReview: expected a JSON object' };
  }
  if (!validateReview(body)) {
    const error = validateReview.errors?.[0];
    const at = error?.instancePath ? error.instancePath.slice(1).replaceAll('/', '.') : 'body';
    const detail =
      error?.keyword === 'const'
        ? `must be ${JSON.stringify((error.params as { allowedValue: unknown }).allowedValue)}`
        : error?.keyword === 'required'
          ? `is missing ${(error.params as { missingProperty: string }).missingProperty}`
          : (error?.message ?? 'is invalid');
    return { ok: false, uid: uidOf(body), reason: `invalid AdmissionReview: ${at} ${detail}` };
  }
  const review = body as { apiVersion: string; request: AdmissionRequest };
  return { ok: true, apiVersion: review.apiVersion, request: review.request };
}

// The API server keeps a warning only under 256 characters and drops all past
// 4 KiB (KEP-1693); 120 is its recommended length for one warning.
const MAX_WARNING_LENGTH = 120;
const MAX_WARNINGS_BYTES = 4096;

export function boundedWarnings(warnings: readonly string[]): string[] {
  const kept: string[] = [];
  let total = 0;
  for (const raw of warnings) {
    const single = raw.replace(/\s+/g, ' ').trim();
    const warning = single.length > MAX_WARNING_LENGTH ? `${single.slice(0, MAX_WARNING_LENGTH - 1)}…` : single;
    total += Buffer.byteLength(warning);
    if (total > MAX_WARNINGS_BYTES) break;
    kept.push(warning);
  }
  return kept;
}

// The API server relays status.message to the client and into events and
// audit logs; a policy with thousands of refs would otherwise get a message
// several times the size of its request (3 MiB in, 10 MiB out).
const MAX_MESSAGE_LENGTH = 32 * 1024;

export function boundedMessage(message: string): string {
  if (message.length <= MAX_MESSAGE_LENGTH) return message;
  const cut = message.lastIndexOf('\n', MAX_MESSAGE_LENGTH);
  const kept = message.slice(0, cut > 0 ? cut : MAX_MESSAGE_LENGTH);
  return `${kept}\n… (${message.length - kept.length} more characters not shown)`;
}

// metav1.StatusReason by HTTP status code (k8s.io/apimachinery
// pkg/apis/meta/v1/types.go): what kubectl and clients read to tell a refusal
// from a fault.
const STATUS_REASONS: Readonly<Record<number, string>> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  410: 'Gone',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/** The status reason of an answer with this code, for every answer alike: another 5xx is an InternalError, another 4xx a BadRequest. */
export function statusReason(code: number): string {
  return STATUS_REASONS[code] ?? (code >= 500 ? 'InternalError' : 'BadRequest');
}

/**
 * The one finishing step for every verdict (controller-runtime's
 * Response.Complete): echoes the uid, sets the status code of a denial, and
 * encodes a non-empty patch as base64 JSONPatch.
 */
export function completeResponse(uid: string, verdict: Verdict, apiVersion = ADMISSION_API_VERSION): AdmissionReviewResponse {
  const response: AdmissionResponse = { uid, allowed: verdict.allowed };
  if (!verdict.allowed) {
    const code = verdict.code ?? 403;
    response.status = {
      code,
      message: boundedMessage(verdict.message ?? 'denied'),
      reason: statusReason(code),
    };
  } else if (verdict.patch.length > 0) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(verdict.patch)).toString('base64');
  }
  const warnings = boundedWarnings(verdict.warnings);
  if (warnings.length > 0) response.warnings = warnings;
  return { apiVersion, kind: 'AdmissionReview', response };
}

/** The body for a request that is not a usable AdmissionReview: still an AdmissionReview, with the reason. */
export function rejectedReview(uid: string, code: number, message: string): AdmissionReviewResponse {
  return {
    apiVersion: ADMISSION_API_VERSION,
    kind: 'AdmissionReview',
    response: { uid, allowed: false, status: { code, message, reason: statusReason(code) } },
  };
}
