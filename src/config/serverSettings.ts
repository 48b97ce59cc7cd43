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
  /** Listen address of /metrics; `host` when unset. */
  metricsHost?: string;
  bodyLimitBytes: number;
  keepAliveTimeoutMs: number;
  /** Slow or idle clients: how long a connection may take for its TLS handshake, a request's headers, a whole request. */
  handshakeTimeoutMs: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /** Open connections accepted; past it, new ones are closed at once. */
  maxConnections: number;
  /** On close, how long connections idle then are left open for a last request (answered with Connection: close). */
  drainTimeoutMs: number;
}
