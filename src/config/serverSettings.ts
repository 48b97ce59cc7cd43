/**
 * Where the server listens and how it treats connections: the config's
 * `server:` section (config.schema.json documents each key and its default)
 * as the server takes it. Declared here once: config/ fills it in, server/
 * reads it (the one file of config/ that server/ may import).
 */
export interface ServerSettings {
  host: string;
  port: number;
  metricsPort: number;
  /** Listen address of /metrics and the health port; `host` when unset. */
  metricsHost?: string;
  /** Serve /metrics over HTTPS with the serving certificate instead of plain HTTP. */
  metricsTls: boolean;
  /** GET /healthz and /readyz over plain HTTP (the kubelet's probes), apart from the admission port; unset: none. */
  healthPort?: number;
  bodyLimitBytes: number;
  keepAliveTimeoutMs: number;
  /** Slow or idle clients: how long a connection may take for its TLS handshake, a request's headers, a whole request. */
  handshakeTimeoutMs: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /** Open connections accepted on each port; past it, new ones are closed at once. */
  maxConnections: number;
  /** Open connections accepted from one source address on each port. */
  maxConnectionsPerSource: number;
  /** Idle time of a connection after an answer to anything but an authorised admission request (probes, metrics, 404s). */
  nonAdmissionIdleTimeoutMs: number;
  /** On close, how long connections idle then are left open for a last request (answered with Connection: close). */
  drainTimeoutMs: number;
}
