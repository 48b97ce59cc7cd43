// A minimal HTTPS client on top of a KubeConfig: raw API paths, any content
// type, status and warnings as the API server sent them (tests assert on them).
import * as http from 'node:http';
import * as https from 'node:https';

import type * as k8s from '@kubernetes/client-node';

export interface KubeResponse {
  status: number;
  /** Parsed JSON when the body is JSON, else the text. */
  body: any;
  text: string;
  /** Admission warnings from Warning headers, as kubectl prints them. */
  warnings: string[];
}

export interface KubeRequestOptions {
  body?: unknown;
  contentType?: string;
  timeoutMs?: number;
}

/** Raw request to the API server of kc's current context (any path / content type). */
export async function kubeRequest(
  kc: k8s.KubeConfig,
  method: string,
  apiPath: string,
  { body, contentType = 'application/json', timeoutMs = 30_000 }: KubeRequestOptions = {},
): Promise<KubeResponse> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const opts: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const url = new URL(apiPath, cluster.server);
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const headers: http.OutgoingHttpHeaders = { ...((opts.headers as http.OutgoingHttpHeaders | undefined) ?? {}), accept: 'application/json' };
  if (payload !== undefined) {
    headers['content-type'] = contentType;
    headers['content-length'] = Buffer.byteLength(payload);
  }
  const mod = url.protocol === 'https:' ? https : http;
  return await new Promise<KubeResponse>((resolve, reject) => {
    const req = mod.request(url, { ...opts, method, headers, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, text, warnings: parseWarningHeaders(res.headers.warning) });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${apiPath}: timed out after ${timeoutMs}ms`)));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/**
 * The texts of RFC 7234 Warning headers as the API server sends admission
 * warnings (`299 - "text"`), what kubectl prints as `Warning: text`.
 */
export function parseWarningHeaders(header: string | string[] | undefined): string[] {
  const values = header === undefined ? [] : Array.isArray(header) ? header : [header];
  const texts: string[] = [];
  for (const value of values) {
    for (const match of value.matchAll(/\d{3} \S+ "((?:[^"\\]|\\.)*)"/g)) texts.push(match[1]!.replace(/\\(.)/g, '$1'));
  }
  return texts;
}

/** kubeRequest that throws unless the answer is 2xx, and resolves to its body. */
async function kubeOk(kc: k8s.KubeConfig, method: string, apiPath: string, opts?: KubeRequestOptions): Promise<any> {
  const res = await kubeRequest(kc, method, apiPath, opts);
  if (res.status < 200 || res.status >= 300) {
    const msg = typeof res.body === 'object' && res.body?.message ? res.body.message : res.text.slice(0, 500);
    const err = new Error(`${method} ${apiPath} -> ${res.status}: ${msg}`);
    (err as Error & { status?: number }).status = res.status;
    throw err;
  }
  return res.body;
}

// Cluster-scoped kinds the harness knows how to apply (what the CRD dirs contain).
const CLUSTER_KINDS: Record<string, string> = {
  'apiextensions.k8s.io/v1/CustomResourceDefinition': '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy': '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies',
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding':
    '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings',
  'admissionregistration.k8s.io/v1/MutatingAdmissionPolicy': '/apis/admissionregistration.k8s.io/v1/mutatingadmissionpolicies',
  'admissionregistration.k8s.io/v1/MutatingAdmissionPolicyBinding': '/apis/admissionregistration.k8s.io/v1/mutatingadmissionpolicybindings',
  'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration': '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
  'admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration':
    '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations',
};

/** The field manager of everything the harness applies. */
export const FIELD_MANAGER = 'kgateway-admission-test';

/** Server-side apply of a CRD, VAP or MAP (and binding), or webhook configuration. */
export async function applyClusterObject(kc: k8s.KubeConfig, obj: any): Promise<any> {
  const base = CLUSTER_KINDS[`${obj.apiVersion}/${obj.kind}`];
  if (!base) throw new Error(`applyClusterObject: unsupported kind ${obj.apiVersion} ${obj.kind}`);
  const name = encodeURIComponent(obj.metadata.name);
  return kubeOk(kc, 'PATCH', `${base}/${name}?fieldManager=${FIELD_MANAGER}&force=true`, {
    body: obj,
    contentType: 'application/apply-patch+yaml',
  });
}
