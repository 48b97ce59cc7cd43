// Types for controlPlane.mjs (the harness core is plain JS so that
// scripts/cluster.mjs can run it under Node without a TypeScript loader).
import type * as k8s from '@kubernetes/client-node';

export declare const REPO_ROOT: string;
export declare const CONTROL_PLANE_SCRIPT: string;
/** The command that builds the control-plane binaries. */
export declare const BUILD_HINT: string;
export declare const DEFAULT_WEBHOOK_NAME: string;

export interface CrdDirs {
  gatewayApi: string;
  kgateway: string;
  agentgateway: string;
}

/** Output of `bash scripts/control-plane.sh paths`. Binaries may not exist yet. */
export interface ControlPlanePaths {
  kubeApiserver: string;
  etcd: string;
  helm: string;
  versions: { kubernetes: string; etcd: string; helm: string; gatewayApi: string; kgateway: string };
  crdDirs: CrdDirs;
}

export type EnsureBinariesResult = { ok: true; paths: ControlPlanePaths } | { ok: false; reason: string };

export interface StartControlPlaneOptions {
  /** Install the gateway-api standard, kgateway and agentgateway CRDs (default true). */
  installCrds?: boolean;
  /** Also apply gateway-api's ValidatingAdmissionPolicy file (default true). */
  includeVap?: boolean;
  extraApiServerArgs?: string[];
  /** Per phase (etcd, apiserver readiness, CRDs Established). Default 120 s. */
  startTimeoutMs?: number;
  /** Use this directory instead of a fresh temp dir (it is not removed by stop()). */
  dir?: string;
  /** Processes outlive this one (own process group, no kill on exit). For scripts/cluster.mjs. */
  detached?: boolean;
  /**
   * Wait until 2 s after the last CRD became Established (default true): the API
   * server sleeps 2 s in any custom-resource create within that window.
   */
  createGrace?: boolean;
  /** Log phases to stderr (also KGA_CONTROLPLANE_VERBOSE=1). */
  verbose?: boolean;
}

export interface InstalledCrds {
  /** Names of the CRDs applied (all Established). */
  crds: string[];
  /** Other objects applied, e.g. "ValidatingAdmissionPolicy/safe-upgrades.gateway.networking.k8s.io". */
  others: string[];
  skipped: { file: string; reason: string }[];
  notes: string[];
}

export interface ControlPlane {
  /** Admin kubeconfig (client certificate in group system:masters), data embedded. */
  kubeconfigPath: string;
  /** https://127.0.0.1:PORT */
  server: string;
  kubeConfig: k8s.KubeConfig;
  /** CA of the API server's serving cert (and of the client certs). */
  caPem: string;
  /** Working dir: pki/, etcd data, logs, kubeconfig. */
  dir: string;
  etcdUrl: string;
  pids: { etcd: number | undefined; kubeApiserver: number | undefined };
  logs: { etcd: string; kubeApiserver: string };
  versions: ControlPlanePaths['versions'];
  crds: InstalledCrds;
  timings: { readyMs: number; totalMs: number };
  /** Kills kube-apiserver and etcd, removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

export declare function startControlPlane(opts?: StartControlPlaneOptions): Promise<ControlPlane>;
export declare function controlPlanePaths(): Promise<ControlPlanePaths>;
export declare function ensureControlPlaneBinaries(opts?: { build?: boolean }): Promise<EnsureBinariesResult>;
/**
 * undefined when control-plane tests can run. Otherwise: throws when CI=true,
 * else prints one loud line to stderr and returns the reason (for describe.skipIf).
 */
export declare function requireControlPlane(): Promise<string | undefined>;

export interface ServingCert {
  caPem: string;
  caKeyPem: string;
  certPem: string;
  keyPem: string;
}
export declare function generateCa(commonName?: string): Promise<{ certPem: string; keyPem: string }>;
export declare function generateServingCert(opts?: {
  ips?: string[];
  dnsNames?: string[];
  commonName?: string;
  ca?: { certPem: string; keyPem: string };
}): Promise<ServingCert>;
export declare function buildKubeconfig(opts: {
  server: string;
  caPem: string;
  clientCertPem?: string;
  clientKeyPem?: string;
  token?: string;
  name?: string;
  user?: string;
}): string;
export declare function freePorts(count?: number): Promise<number[]>;

export interface KubeResponse {
  status: number;
  /** Parsed JSON when the body is JSON, else the text. */
  body: any;
  text: string;
  /** Admission warnings from Warning headers, as kubectl prints them. */
  warnings: string[];
}
export declare function parseWarningHeaders(header: string | string[] | undefined): string[];
/** Raw request to the API server of kc's current context (any path / content type). */
export declare function kubeRequest(
  kc: k8s.KubeConfig,
  method: string,
  apiPath: string,
  opts?: { body?: unknown; contentType?: string; timeoutMs?: number },
): Promise<KubeResponse>;
/** Server-side apply of a CRD, VAP(-binding) or webhook configuration. */
export declare function applyClusterObject(kc: k8s.KubeConfig, obj: any): Promise<any>;
export declare function loadCrdManifests(
  crdDirs: CrdDirs,
  opts?: { includeVap?: boolean },
): Promise<{ objects: { file: string; obj: any }[]; skipped: { file: string; reason: string }[]; notes: string[] }>;
export declare function installCrds(
  kc: k8s.KubeConfig,
  crdDirs: CrdDirs,
  opts?: { includeVap?: boolean; timeoutMs?: number; createGrace?: boolean },
): Promise<InstalledCrds>;
/** Resolves to the latest Established lastTransitionTime (ms since epoch). */
export declare function waitForCrdsEstablished(kc: k8s.KubeConfig, names: string[], timeoutMs?: number): Promise<number>;
/** Lists every served version of each CRD until the API server answers 200 (watch cache ready). */
export declare function waitForCrdsServing(kc: k8s.KubeConfig, crds: any[], timeoutMs?: number): Promise<void>;

export interface StartWebhookServerOptions {
  kubeconfigPath: string;
  /** Appended after the standard `serve` flags. */
  extraArgs?: string[];
  /** Added to process.env for the child. */
  env?: Record<string, string>;
  /** Default 60 s. */
  readyTimeoutMs?: number;
  /** Default <repo>/dist/cli/main.js. */
  entry?: string;
  /** Directory for tls.crt/tls.key/ca.crt/webhook.log (default: fresh temp dir, removed on stop). */
  dir?: string;
  /** Reuse these certs instead of generating a fresh CA + serving cert. */
  certs?: ServingCert;
  port?: number;
  metricsPort?: number;
  detached?: boolean;
}

export interface WebhookServer {
  /** https://127.0.0.1:PORT (no trailing slash). */
  url: string;
  /** CA that signed the serving cert: use as caBundle / `ca` for https requests. */
  caPem: string;
  /** http://127.0.0.1:METRICS_PORT */
  metricsUrl: string;
  port: number;
  metricsPort: number;
  pid: number | undefined;
  logFile: string;
  /** Everything the server wrote to stdout/stderr so far. */
  logs(): string;
  stop(): Promise<void>;
}
export declare function startWebhookServer(opts: StartWebhookServerOptions): Promise<WebhookServer>;

export interface RegisterWebhooksOptions {
  /** Base URL of the webhook server; /mutate and /validate are appended. */
  url: string;
  caPem: string;
  failurePolicy?: 'Fail' | 'Ignore';
  /** Name of both configurations (default "kgateway-admission"). */
  name?: string;
  timeoutSeconds?: number;
  namespaceSelector?: unknown;
  /** How long to wait for the API server to start calling the webhooks (default 30 s). */
  waitMs?: number;
  /** Also send ReferenceGrant UPDATE and DELETE to /validate (the grant guard; default true). */
  guardReferenceGrants?: boolean;
}
export declare function registerWebhooks(
  kc: k8s.KubeConfig,
  opts: RegisterWebhooksOptions,
): Promise<{ mutating: any; validating: any }>;
export declare function unregisterWebhooks(kc: k8s.KubeConfig, opts?: { name?: string; waitMs?: number }): Promise<void>;

export declare function pidAlive(pid: number): boolean;
export declare function killPid(pid: number, timeoutMs?: number): Promise<void>;

/** SIGKILLs the control plane's current kube-apiserver; etcd keeps running. */
export declare function killKubeApiserver(cp: ControlPlane): Promise<void>;
export interface ExtraKubeApiserver {
  /** https://127.0.0.1:PORT */
  server: string;
  /** The admin kubeconfig pointed at this instance. */
  kubeConfig: k8s.KubeConfig;
  pid: number | undefined;
  stop(): Promise<void>;
}
/**
 * Starts kube-apiserver with the control plane's flags, certificates and etcd:
 * on its own port again (after killKubeApiserver; cp.pids is updated), or with
 * `newPort` on a fresh port beside it (an HA peer). Waits for /readyz. cp.stop()
 * also stops every instance started here.
 */
export declare function startKubeApiserver(
  cp: ControlPlane,
  opts?: {
    newPort?: boolean;
    timeoutMs?: number;
    /** Flags after the control plane's own (the last of a repeated flag wins), e.g. ['--watch-cache=false']. */
    extraArgs?: string[];
  },
): Promise<ExtraKubeApiserver>;
