// What "a well-formed answer" means, checked the same way for the engine,
// app.inject() and real HTTPS.
import { expect } from 'vitest';

const MAX_WARNING_LENGTH = 120;
const MAX_WARNINGS_BYTES = 4096;

function uidSent(body: unknown): unknown {
  return (body as { request?: { uid?: unknown } } | null)?.request?.uid;
}

/**
 * `status` 200: an AdmissionReview answering the request's uid, allowed or
 * denied with a code and message, a patch only from /mutate and only as
 * base64 JSON Patch, warnings within the API server's limits.
 * `status` 4xx: an AdmissionReview that is not allowed, whose status carries
 * the same code and a reason. Nothing else, and never 5xx.
 */
export function checkReviewAnswer(status: number, answer: unknown, sent: unknown, endpoint: 'mutate' | 'validate'): void {
  expect(answer).toMatchObject({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' });
  const response = (answer as { response: Record<string, unknown> }).response;
  expect(typeof response.uid).toBe('string');
  expect(typeof response.allowed).toBe('boolean');
  if (status !== 200) {
    expect([400, 401, 413, 415]).toContain(status);
    expect(response.allowed).toBe(false);
    const s = response.status as { code: number; message: string; reason: string };
    expect(s.code).toBe(status);
    expect(typeof s.message).toBe('string');
    expect(s.message.length).toBeGreaterThan(0);
    expect(typeof s.reason).toBe('string');
    expect(response.patch).toBeUndefined();
    return;
  }
  expect(response.uid).toBe(uidSent(sent));
  if (!response.allowed) {
    const s = response.status as { code: number; message: string };
    // 403 a rule's denial, 400 a version the rules cannot read, 500 a rule that threw, 503 not ready.
    expect([400, 403, 500, 503]).toContain(s.code);
    expect(s.message.length).toBeGreaterThan(0);
    expect(response.patch).toBeUndefined();
  } else {
    expect(response.status).toBeUndefined();
  }
  if (response.patch !== undefined) {
    expect(endpoint).toBe('mutate');
    expect(response.patchType).toBe('JSONPatch');
    const ops = JSON.parse(Buffer.from(String(response.patch), 'base64').toString('utf8')) as unknown;
    expect(Array.isArray(ops)).toBe(true);
    expect((ops as unknown[]).length).toBeGreaterThan(0);
  } else {
    expect(response.patchType).toBeUndefined();
  }
  if (response.warnings !== undefined) {
    const warnings = response.warnings as string[];
    expect(warnings.length).toBeGreaterThan(0);
    for (const w of warnings) expect(w.length).toBeLessThanOrEqual(MAX_WARNING_LENGTH);
    expect(Buffer.byteLength(warnings.join(''))).toBeLessThanOrEqual(MAX_WARNINGS_BYTES);
  }
}
