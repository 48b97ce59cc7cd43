// A plain-HTTP relay in front of a real kube-apiserver, adding the admin
// credentials of `kc`. It can hold the answers to chosen requests after the
// API server has served them: the one fault the real API server will not give
// on cue is an answer that is already stale when it arrives.
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import { request, type RequestOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

interface HeldAnswer {
  path: string;
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  res: ServerResponse;
}

export interface ApiRelay {
  /** A kubeconfig for clients of the relay (no credentials of its own). */
  kubeConfig: KubeConfig;
  /** Every request path (with query) that came through, in order. */
  paths: string[];
  /** Holds the answers to requests whose path matches, once the API server has answered them, until release(). */
  holdAnswers(match: (path: string) => boolean): void;
  /** Answers held so far (served by the API server, not yet sent on). */
  readonly held: readonly { path: string; body: string }[];
  release(): void;
  close(): Promise<void>;
}

export async function startApiRelay(kc: KubeConfig): Promise<ApiRelay> {
  const target = new URL(kc.getCurrentCluster()!.server);
  let match: ((path: string) => boolean) | undefined;
  const held: HeldAnswer[] = [];
  const paths: string[] = [];
  const server = createServer(async (req, res) => {
    const path = req.url ?? '/';
    paths.push(path);
    const options: RequestOptions = { method: req.method, headers: { ...req.headers, host: target.host } };
    await kc.applyToHTTPSOptions(options);
    const upstream = request(new URL(path, target), options, (answer) => {
      if (!match?.(path)) {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        return;
      }
      const chunks: Buffer[] = [];
      answer.on('data', (c: Buffer) => chunks.push(c));
      answer.on('end', () => held.push({ path, status: answer.statusCode ?? 502, headers: answer.headers, body: Buffer.concat(chunks), res }));
    });
    upstream.on('error', (error) => res.destroy(error));
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    // Plain HTTP on loopback: client-node refuses it unless told to skip TLS verification.
    clusters: [{ name: 'relay', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'relay' }],
    contexts: [{ name: 'relay', cluster: 'relay', user: 'relay' }],
    currentContext: 'relay',
  });
  return {
    kubeConfig,
    paths,
    holdAnswers(m) {
      match = m;
    },
    get held() {
      return held.map((h) => ({ path: h.path, body: h.body.toString('utf8') }));
    },
    release() {
      match = undefined;
      for (const h of held.splice(0)) h.res.writeHead(h.status, h.headers).end(h.body);
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
