import { request as plainRequest } from 'node:http';
import { request, type Agent } from 'node:https';
import type { PeerCertificate } from 'node:tls';

export interface HttpsResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: () => any;
  peerCertificate: PeerCertificate;
}

/** A real HTTPS request, trusting only `ca`. */
export function httpsRequest(
  url: string,
  options: { method?: string; body?: string | Buffer; contentType?: string; ca: string | Buffer; agent?: Agent; cert?: string; key?: string },
): Promise<HttpsResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {};
    if (options.body !== undefined) {
      headers['content-type'] = options.contentType ?? 'application/json';
      headers['content-length'] = Buffer.byteLength(options.body);
    }
    const req = request(
      url,
      {
        method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
        headers,
        ca: options.ca,
        ...(options.agent ? { agent: options.agent } : { agent: false }),
        ...(options.cert ? { cert: options.cert, key: options.key } : {}),
      },
      (res) => {
        const peerCertificate = (res.socket as import('node:tls').TLSSocket).getPeerCertificate();
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text), peerCertificate });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

/** A plain-HTTP request (the metrics port), for checking what answers there. */
export function plainHttpRequest(url: string, method = 'GET'): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    plainRequest(url, { method }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    })
      .on('error', reject)
      .end();
  });
}
