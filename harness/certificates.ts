// Certificates for the test control plane and the webhook server: a CA, serving
// and client certificates signed by it (EC P-256), and the service-account key pair.
import { generateKeyPairSync } from 'node:crypto';

import { generate as generateCert } from 'selfsigned';

export interface KeyPairPem {
  certPem: string;
  keyPem: string;
}

export interface ServingCert {
  caPem: string;
  caKeyPem: string;
  certPem: string;
  keyPem: string;
}

const CA_EXTENSIONS = [
  { name: 'basicConstraints' as const, cA: true, critical: true },
  { name: 'keyUsage' as const, keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
];

/** A fresh self-signed CA (EC P-256). */
export async function generateCa(commonName = 'kgateway-admission-test-ca'): Promise<KeyPairPem> {
  const ca = await generateCert([{ name: 'commonName', value: commonName }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: CA_EXTENSIONS,
  });
  return { certPem: ca.cert, keyPem: ca.private };
}

export interface ServingCertOptions {
  ips?: string[];
  dnsNames?: string[];
  commonName?: string;
  ca?: KeyPairPem;
}

/**
 * A CA plus a serving certificate signed by it, for the given IPs / DNS names
 * (default 127.0.0.1, ::1 and localhost).
 */
export async function generateServingCert({
  ips = ['127.0.0.1', '::1'],
  dnsNames = ['localhost'],
  commonName = 'kgateway-admission-test',
  ca,
}: ServingCertOptions = {}): Promise<ServingCert> {
  const issuer = ca ?? (await generateCa());
  const leaf = await generateCert([{ name: 'commonName', value: commonName }], {
    keyType: 'ec',
    algorithm: 'sha256',
    ca: { key: issuer.keyPem, cert: issuer.certPem },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          ...dnsNames.map((value) => ({ type: 2 as const, value })),
          ...ips.map((ip) => ({ type: 7 as const, ip })),
        ],
      },
    ],
  });
  return { caPem: issuer.certPem, caKeyPem: issuer.keyPem, certPem: leaf.cert, keyPem: leaf.private };
}

/** A client certificate signed by `ca`; kube-apiserver reads the organization as the user's group. */
export async function generateClientCert(ca: KeyPairPem, commonName: string, organization?: string): Promise<KeyPairPem> {
  const attrs = [{ name: 'commonName', value: commonName }];
  if (organization) attrs.push({ name: 'organizationName', value: organization });
  const c = await generateCert(attrs, {
    keyType: 'ec',
    algorithm: 'sha256',
    ca: { key: ca.keyPem, cert: ca.certPem },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', clientAuth: true },
    ],
  });
  return { certPem: c.cert, keyPem: c.private };
}

/** The key pair kube-apiserver signs and checks service-account tokens with. */
export function generateServiceAccountKeys(): { publicKey: string; privateKey: string } {
  return generateKeyPairSync('ec', {
    namedCurve: 'prime256v1',
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}
