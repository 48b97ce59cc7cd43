import type { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { manifestClusterSource, type ClusterSource } from '../cluster/clusterSource.js';
import { KubeApi } from '../cluster/kubeApi.js';
import { detectProfile, loadKubeConfig } from '../cluster/kubeConnection.js';
import { LiveClusterSource } from '../cluster/liveClusterSource.js';
import { AdmissionMetrics } from '../server/metrics.js';
import { loadConfig, ruleSettings, viewOptionsFor } from '../config/config.js';
import type { ProfileName } from '../config/profiles.js';
import { ensureCertificates } from '../server/certificates.js';
import { startWebhookServer } from '../server/webhookServer.js';
import { integerOption, parseCommandArgs, profileOption, UsageError } from './usage.js';

export const SERVE_USAGE = `Usage: kgateway-admission serve [--host H] [--port N] [--metrics-port N] [--config FILE] [--profile NAME]
         [--tls-cert FILE --tls-key FILE] [--client-ca FILE] [--certs-dir DIR]
         (--manifests PATH... | --kubeconfig FILE)

Serves POST /mutate and /validate (AdmissionReview admission.k8s.io/v1) over
HTTPS, GET /healthz and /readyz on the same port, and GET /metrics over plain
HTTP on --metrics-port. Without --tls-cert/--tls-key, a CA and serving
certificate are generated into --certs-dir (default certs/) and reused.
The cluster view comes from --manifests files, or from list+watch of a live
cluster: --kubeconfig, else $KUBECONFIG, else in-cluster credentials.
--profile (kgateway-v2.1 or agentgateway-v2.2; or profile: in the config)
sets the controller names and parameters kind; unset, a live cluster's CRDs
decide (agentgateway-v2.2 when it serves AgentgatewayParameters).`;

export async function runServe(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    'serve',
    args,
    {
      host: { type: 'string' },
      port: { type: 'string' },
      'metrics-port': { type: 'string' },
      config: { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'client-ca': { type: 'string' },
      'certs-dir': { type: 'string', default: 'certs' },
      manifests: { type: 'string', multiple: true },
      kubeconfig: { type: 'string' },
      profile: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    false,
  );
  if (values.help) {
    process.stdout.write(`${SERVE_USAGE}\n`);
    return 0;
  }
  if (Boolean(values['tls-cert']) !== Boolean(values['tls-key'])) throw new UsageError('serve: give --tls-cert and --tls-key together');
  const config = await loadConfig(values.config);
  config.server.host = values.host ?? config.server.host;
  config.server.port = integerOption('port', values.port, 0, 65535) ?? config.server.port;
  config.server.metricsPort = integerOption('metrics-port', values['metrics-port'], 0, 65535) ?? config.server.metricsPort;

  const logger = pino({ level: config.logLevel, base: { service: 'kgateway-admission' } });
  let profile: ProfileName | undefined = profileOption(values.profile) ?? config.profile;

  const metrics = new AdmissionMetrics();
  let source: ClusterSource;
  if (values.manifests && values.manifests.length > 0) {
    if (values.kubeconfig) throw new UsageError('serve: give --manifests or --kubeconfig, not both');
    source = await manifestClusterSource(values.manifests, viewOptionsFor(ruleSettings(config, profile)));
  } else {
    let kubeConfig: KubeConfig | undefined;
    try {
      kubeConfig = loadKubeConfig(values.kubeconfig);
    } catch (error) {
      throw new UsageError(`serve: cannot load the kubeconfig: ${(error as Error).message}`);
    }
    if (!kubeConfig) {
      throw new UsageError('serve: no cluster view: give --manifests PATH, or --kubeconfig FILE (or set KUBECONFIG, or run in a cluster)');
    }
    if (!profile) {
      profile = await detectProfile(new KubeApi(kubeConfig));
      logger.info({ profile }, 'profile chosen from the CRDs the cluster serves');
    }
    const settings = ruleSettings(config, profile);
    source = new LiveClusterSource({
      kubeConfig,
      logger,
      parametersKind: { group: settings.parametersRef.group, kind: settings.parametersRef.kind },
      referrerKinds: [...settings.backendRefKinds, ...settings.scanKinds],
      backendRefs: viewOptionsFor(settings).backendRefs!,
      onList: (resource, reason) => metrics.watchLists.inc({ resource, reason }),
      onWatchError: (resource) => metrics.watchErrors.inc({ resource }),
    });
  }
  const settings = ruleSettings(config, profile);
  logger.info({ profile: profile ?? config.profile ?? 'kgateway-v2.1', parametersRef: settings.parametersRef }, 'rules configured');

  let tls;
  if (values['tls-cert'] && values['tls-key']) {
    tls = { certFile: values['tls-cert'], keyFile: values['tls-key'] };
  } else {
    const hosts = [...new Set([config.server.host, 'localhost', '127.0.0.1'].filter((h) => h !== '0.0.0.0' && h !== '::'))];
    const generated = await ensureCertificates(values['certs-dir'], hosts);
    logger.info({ dir: values['certs-dir'], created: generated.created, caFile: generated.caFile }, 'using self-signed serving certificate');
    tls = { certFile: generated.certFile, keyFile: generated.keyFile };
  }
  const server = await startWebhookServer({
    config,
    settings,
    source,
    logger,
    metrics,
    tls: values['client-ca'] ? { ...tls, clientCaFile: values['client-ca'] } : tls,
  });
  logger.info({ url: server.url, metricsUrl: `${server.metricsUrl}/metrics` }, 'kgateway-admission serving');

  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      logger.info({ signal }, 'shutting down: finishing in-flight requests');
      server.close().then(resolve, (error: unknown) => {
        logger.error({ err: error }, 'error during shutdown');
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}
