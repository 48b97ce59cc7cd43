import { describe, expect, it } from 'vitest';
import { boundedWarnings, completeResponse, decodeAdmissionReview, rejectedReview, statusReason } from '../../../src/admission/admissionReview.js';
import { allowed, denied, errored, patched, withWarnings } from '../../../src/rules/verdicts.js';
import { admissionRequest, admissionReview, gateway } from '../../support/builders.js';

describe('decodeAdmissionReview', () => {
  it('returns the request of a well-formed review and keeps fields it does not know', () => {
    const request = { ...admissionRequest(gateway()), requestKind: { group: 'g', version: 'v', kind: 'k' }, userInfo: { username: 'u' } };
    const decoded = decodeAdmissionReview(admissionReview(request));
    expect(decoded).toEqual({ ok: true, apiVersion: 'admission.k8s.io/v1', request });
  });

  it.each<[string, unknown, string]>([
    ['a JSON array', [], 'expected a JSON object'],
    ['null', null, 'expected a JSON object'],
    ['a string', 'x', 'expected a JSON object'],
    ['the wrong apiVersion', { apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: {} }, 'apiVersion must be "admission.k8s.io/v1"'],
    ['the wrong kind', { apiVersion: 'admission.k8s.io/v1', kind: 'Pod', request: {} }, 'kind must be "AdmissionReview"'],
    ['no request', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, 'is missing request'],
    ['no uid', admissionReview({ ...admissionRequest(gateway()), uid: undefined as unknown as string }), 'request is missing uid'],
    ['an empty uid', admissionReview({ ...admissionRequest(gateway()), uid: '' }), 'request.uid'],
    ['an unknown operation', admissionReview({ ...admissionRequest(gateway()), operation: 'PATCH' as never }), 'request.operation'],
    ['an object that is an array', admissionReview({ ...admissionRequest(gateway()), object: [] as never }), 'request.object'],
  ])('rejects %s with the reason', (_name, body, reason) => {
    const decoded = decodeAdmissionReview(body);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.reason).toContain(reason);
  });

  it('keeps the uid of a review it rejects, so the API server can match the answer', () => {
    const decoded = decodeAdmissionReview({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'abc', kind: {} } });
    expect(decoded).toMatchObject({ ok: false, uid: 'abc' });
  });

  it('accepts a DELETE whose object is null', () => {
    const decoded = decodeAdmissionReview(admissionReview(admissionRequest(null, 'DELETE', gateway())));
    expect(decoded.ok).toBe(true);
  });
});

describe('completeResponse', () => {
  it('echoes the uid of an allowed review with nothing else', () => {
    expect(completeResponse('u1', allowed())).toEqual({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'u1', allowed: true } });
  });

  it('encodes a patch as base64 JSONPatch', () => {
    const patch = [{ op: 'add' as const, path: '/spec/infrastructure', value: { parametersRef: { name: 'x' } } }];
    const body = completeResponse('u2', patched(patch));
    expect(body.response.patchType).toBe('JSONPatch');
    expect(JSON.parse(Buffer.from(body.response.patch!, 'base64').toString('utf8'))).toEqual(patch);
  });

  it('gives a denial status 403 with its message, and a not-ready denial 503', () => {
    expect(completeResponse('u3', denied('no grant')).response).toEqual({
      uid: 'u3',
      allowed: false,
      status: { code: 403, message: 'no grant', reason: 'Forbidden' },
    });
    expect(completeResponse('u4', denied('later', 503)).response.status).toEqual({ code: 503, message: 'later', reason: 'ServiceUnavailable' });
  });

  it('never sends a patch with a denial', () => {
    const verdict = { ...denied('x'), patch: [{ op: 'add' as const, path: '/a', value: 1 }] };
    expect(completeResponse('u5', verdict).response.patch).toBeUndefined();
  });

  it('keeps warnings under 120 characters each and 4 KiB in all', () => {
    const long = 'w'.repeat(500);
    const body = completeResponse('u6', withWarnings(allowed(), 'short', long, ...Array.from({ length: 100 }, () => long)));
    const warnings = body.response.warnings!;
    expect(warnings[0]).toBe('short');
    expect(warnings.every((w) => w.length <= 120)).toBe(true);
    expect(warnings.join('').length).toBeLessThanOrEqual(4096);
    expect(warnings.length).toBeGreaterThan(10);
    expect(boundedWarnings(['a\n  b'])).toEqual(['a b']);
  });

  it.each([
    [400, 'BadRequest'],
    [401, 'Unauthorized'],
    [403, 'Forbidden'],
    [413, 'RequestEntityTooLarge'],
    [415, 'UnsupportedMediaType'],
    [429, 'TooManyRequests'],
    [500, 'InternalError'],
    [503, 'ServiceUnavailable'],
    [418, 'BadRequest'],
    [502, 'InternalError'],
  ])('gives status code %i the reason %s, in a verdict and in a rejected body alike', (code, reason) => {
    expect(statusReason(code)).toBe(reason);
    expect(completeResponse('u', denied('no', code)).response.status!.reason).toBe(reason);
    expect(rejectedReview('', code, 'no').response.status!.reason).toBe(reason);
  });

  it('labels a 500 InternalError: an errored verdict, and a rejected body', () => {
    expect(completeResponse('u7', errored('could not evaluate')).response).toEqual({
      uid: 'u7',
      allowed: false,
      status: { code: 500, message: 'could not evaluate', reason: 'InternalError' },
    });
    expect(rejectedReview('', 500, 'broke').response.status).toEqual({ code: 500, message: 'broke', reason: 'InternalError' });
  });

  it('wraps a rejected body in an AdmissionReview too', () => {
    expect(rejectedReview('', 413, 'too big')).toEqual({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: '', allowed: false, status: { code: 413, message: 'too big', reason: 'RequestEntityTooLarge' } },
    });
  });
});
