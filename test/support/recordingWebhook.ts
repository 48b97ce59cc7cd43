// A webhook that admits everything unchanged and records each request the API
// server sends it: which requests the matchConditions let through.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { generateServingCert } from '../../harness/index.ts';

export interface RecordedCall {
  path: string;
  request: { uid: string; kind: { group: string; version: string; kind: string }; operation: string; namespace?: string; name?: string; object?: any; oldObject?: any };
}

export interface RecordingWebhook {
  url: string;
  caPem: string;
  calls: RecordedCall[];
  /** Whether a request for this kind, namespace/name and operation reached `path`. */
  called(path: '/mutate' | '/validate', kind: string, namespace: string, name: string, operation: string): boolean;
  close(): Promise<void>;
}

export async function startRecordingWebhook(): Promise<RecordingWebhook> {
  const certs = await generateServingCert({ ips: ['127.0.0.1'] });
  const calls: RecordedCall[] = [];
  const server: Server = createServer({ cert: certs.certPem, key: certs.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const review = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      calls.push({ path: (req.url ?? '').split('?')[0]!, request: review.request });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: review.request.uid, allowed: true } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    caPem: certs.caPem,
    calls,
    called: (path, kind, namespace, name, operation) =>
      calls.some((c) => c.path === path && c.request.kind.kind === kind && c.request.namespace === namespace && c.request.name === name && c.request.operation === operation),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
