import type { SecureContextOptions } from 'node:tls';
import type { LoadedTls } from '../certificates/files.js';

// TLS 1.2 at least; for 1.2, only forward-secret AEAD suites (TLS 1.3 suites
// are all of that kind already).
export const TLS_SETTINGS = {
  minVersion: 'TLSv1.2',
  ciphers: [
    'TLS_AES_128_GCM_SHA256',
    'TLS_AES_256_GCM_SHA384',
    'TLS_CHACHA20_POLY1305_SHA256',
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-CHACHA20-POLY1305',
  ].join(':'),
  honorCipherOrder: true,
} as const;

export function secureContextOptions(tls: LoadedTls): SecureContextOptions & { requestCert?: boolean; rejectUnauthorized?: boolean } {
  return {
    ...TLS_SETTINGS,
    cert: tls.cert,
    key: tls.key,
    // With a client CA, every client is asked for a certificate, but the
    // handshake does not fail without one: the admission routes refuse such
    // clients themselves (401), so the kubelet's HTTPS probes, which send no
    // certificate, still reach /healthz and /readyz.
    ...(tls.ca ? { ca: tls.ca, requestCert: true, rejectUnauthorized: false } : {}),
  };
}
