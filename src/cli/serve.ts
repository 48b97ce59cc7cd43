import { existsSync, readFileSync } from 'node:fs';
import { pino } from 'pino';
import { manifestClusterSource, type ClusterSource } from '../cluster/clusterSource.js';
import type { KubeConnectionConfig } from '../cluster/kubeCredentials.js';
import type { SelfManagedCertificates } from '../cluster/selfManagedCertificates.js';
import { AdmissionMetrics } from '../server/metrics.js';
import { loadConfig, profileOf, ruleSettings, watchedReferrerKinds } from '../config/config.js';
import { viewOptionsFor } from '../cluster/inMemoryClusterView.js';
import type { ProfileName } from '../rules/profiles.js';
import { handledKinds } from '../rules/ruleSet.js';
import type { AdmissionRequest, Verdict } from '../rules/types.js';
import type { RunningReports } from '../reports/startReports.js';
import { DECISION_MESSAGE } from '../server/admissionRoutes.js';
import { LOG_FORMAT } from '../server/logFormat.js';
import { ensureCertificates } from '../certificates/certificates.js';
import { startWebhookServer } from './webhookServer.js';
import { integerOption, parseCommandArgs, profileOption, UsageError } from './usage.js';

export const SERVE_USAGE = `Usage: kgateway-admission serve [--host H] [--port N] [--metrics-host H] [--metrics-port N] [--config FILE] [--profile NAME]
         [--tls-cert FILE --tls-key FILE] [--client-ca FILE] [--certs-dir DIR]
         (--manifests PATH... | --kubeconfig FILE)
         [--self-managed-certs --secret-name NAME --service-name NAME [--namespace NS] [--webhook-config NAME...]]
         [--events] [--reports [--reports-lease-seconds N]]

Serves POST /mutate and /validate (AdmissionReview admission.k8s.io/v1) over
HTTPS, GET /healthz and /readyz on the same port, and GET /metrics over plain
HTTP on --metrics-port (on --metrics-host, default --host). Without --tls-cert/--tls-key, a CA and serving
certificate are generated into --certs-dir (default certs/) and reused.
The cluster view comes from --manifests files, or from list+watch of a live
cluster: --kubeconfig, else $KUBECONFIG, else in-cluster credentials.
--profile (kgateway-v2.1 or agentgateway-v2.2; or profile: in the config)
sets the controller names and parameters kind; unset, a live cluster's CRDs
decide (agentgateway-v2.2 when it serves AgentgatewayParameters).
--self-managed-certs (live cluster only; instead of --tls-cert/--tls-key):
the server keeps a CA and a serving certificate for SERVICE.NAMESPACE.svc in
Secret --secret-name (created when missing, shared by replicas, renewed before
expiry), writes them to --certs-dir for the TLS loader, and sets caBundle in
the Mutating/ValidatingWebhookConfigurations named by --webhook-config.
--namespace defaults to $POD_NAMESPACE, else the in-cluster namespace.
--events (live cluster only): records a Warning event (events.k8s.io/v1) on an
object admitted with warnings, and on each object a ReferenceGrant's update
or deletion left without its permission; at most one per object and reason
in 5 minutes.
--reports (live cluster only): keeps one openreports.io/v1alpha1 Report per
namespace (one result per object and rule: pass, fail or warn), rescanned when
a watched object changes and every 5 minutes, written by the one replica that
holds the Lease kgateway-admission-reports in $POD_NAMESPACE (default 15 s).

Examples:
  kgateway-admission serve --manifests examples/
  kgateway-admission serve --kubeconfig ~/.kube/config --tls-cert tls.crt --tls-key tls.key`;

export async function runServe(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    'serve',
    args,
    {
      host: { type: 'string' },
      port: { type: 'string' },
      'metrics-port': { type: 'string' },
      'metrics-host': { type: 'string' },
      config: { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'client-ca': { type: 'string' },
      'certs-dir': { type: 'string', default: 'certs' },
      manifests: { type: 'string', multiple: true },
      kubeconfig: { type: 'string' },
      profile: { type: 'string' },
      'self-managed-certs': { type: 'boolean' },
      namespace: { type: 'string' },
      'secret-name': { type: 'string' },
      'service-name': { type: 'string' },
      'webhook-config': { type: 'string', multiple: true },
      events: { type: 'boolean' },
      reports: { type: 'boolean' },
      'reports-lease-seconds': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    false,
  );
  if (values.help) {
    process.stdout.write(`${SERVE_USAGE}\n`);
    return 0;
  }
  if (Boolean(values['tls-cert']) !== Boolean(values['tls-key'])) throw new UsageError('serve: give --tls-cert and --tls-key together');
  const selfManagedCerts = selfManagedOptions(values);
  const config = await loadConfig(values.config);
  config.server.host = values.host ?? config.server.host;
  config.server.port = integerOption('port', values.port, 0, 65535) ?? config.server.port;
  const metricsHost = values['metrics-host'] ?? config.server.metricsHost;
  if (metricsHost !== undefined) config.server.metricsHost = metricsHost;
  config.server.metricsPort = integerOption('metrics-port', values['metrics-port'], 0, 65535) ?? config.server.metricsPort;

  // stdout, asynchronous as pino's default, but the per-request decision
  // lines are written 4 KiB at a time: the default starts a thread-pool write
  // whenever none is in flight, a round trip every few requests, which under
  // load cost 1-2.5 us of CPU per request in interleaved wrk runs. A decision
  // line waits at most 100 ms (periodicFlush); any other line (start-up,
  // warnings, errors, shutdown) is written at once, and pino writes what is
  // left when the process exits (it does so for asynchronous destinations).
  // A synchronous destination measured cheaper still, but it blocks the event
  // loop (in 100 ms sleeps, as stdout is non-blocking) when stdout backs up.
  const destination = pino.destination({ sync: false, minLength: 4096, periodicFlush: 100 });
  const logger = pino(
    {
      ...LOG_FORMAT,
      level: config.logLevel,
      base: { service: 'kgateway-admission' },
      hooks: {
        logMethod(args, method) {
          method.apply(this, args);
          if (args[1] !== DECISION_MESSAGE) destination.flush();
        },
      },
    },
    destination,
  );
  let reports: RunningReports | undefined;
  let profile: ProfileName | undefined = profileOption(values.profile) ?? config.profile;

  const fromManifests = values.manifests !== undefined && values.manifests.length > 0;
  if (fromManifests && values.kubeconfig) throw new UsageError('serve: give --manifests or --kubeconfig, not both');
  let live: { kubeConfig: KubeConnectionConfig; LiveClusterSource: typeof import('../cluster/liveClusterSource.js').LiveClusterSource } | undefined;
  if (!fromManifests) {
    // Only a live view loads the watch code (client-node's Watch and undici, ~30 MiB).
    const [{ KubeApi }, { detectProfile, loadKubeConnection }, { LiveClusterSource }] = await Promise.all([
      import('../cluster/kubeApi.js'),
      import('../cluster/kubeConnection.js'),
      import('../cluster/liveClusterSource.js'),
    ]);
    let connection;
    try {
      connection = await loadKubeConnection(values.kubeconfig);
    } catch (error) {
      throw new UsageError(`serve: cannot load the kubeconfig: ${(error as Error).message}`);
    }
    if (!connection) {
      throw new UsageError('serve: no cluster view: give --manifests PATH, or --kubeconfig FILE (or set KUBECONFIG, or run in a cluster)');
    }
    logger.info({ credentials: connection.source, server: connection.config.getCurrentCluster()?.server }, 'cluster credentials loaded');
    const kubeConfig = connection.config;
    if (!profile) {
      profile = await detectProfile(new KubeApi(kubeConfig));
      logger.info({ profile }, 'profile chosen from the CRDs the cluster serves');
    }
    live = { kubeConfig, LiveClusterSource };
  }
  const settings = ruleSettings(config, profile);
  logger.info({ profile: profileOf(config, profile), parametersRef: settings.parametersRef }, 'rules configured');
  const metrics = new AdmissionMetrics({ kinds: handledKinds(settings).map((k) => k.kind) });
  const source: ClusterSource = live
    ? new live.LiveClusterSource({
        kubeConfig: live.kubeConfig,
        logger,
        parametersKind: { group: settings.parametersRef.group, kind: settings.parametersRef.kind },
        referrerKinds: watchedReferrerKinds(settings),
        backendRefs: viewOptionsFor(settings).backendRefs!,
        onList: (resource, reason) => metrics.watchLists.inc({ resource, reason }),
        onChange: () => reports?.changed(),
        onWatchError: (resource) => metrics.watchErrors.inc({ resource }),
        rereads: { onReread: (result) => metrics.grantRereads.inc({ result }) },
        staleAfterMs: config.server.staleAfterSeconds * 1000,
      })
    : await manifestClusterSource(values.manifests!, viewOptionsFor(settings));
  const liveKubeConfig = live?.kubeConfig;
  if (values.reports) {
    if (!liveKubeConfig) throw new UsageError('serve: --reports needs a live cluster (--kubeconfig or in-cluster), not --manifests');
    const leaseDurationSeconds = integerOption('reports-lease-seconds', values['reports-lease-seconds'], 2, 3600);
    const { startReports } = await import('../reports/startReports.js');
    reports = startReports({ kubeConfig: liveKubeConfig, logger, metrics, settings, view: source.view, ...(leaseDurationSeconds ? { leaseDurationSeconds } : {}) });
  } else if (values['reports-lease-seconds'] !== undefined) {
    throw new UsageError('serve: --reports-lease-seconds goes only with --reports');
  }
  let onDecided: ((request: AdmissionRequest, verdict: Verdict) => void) | undefined;
  let stopEvents = (): void => {};
  if (values.events) {
    if (!liveKubeConfig) throw new UsageError('serve: --events needs a live cluster (--kubeconfig or in-cluster), not --manifests');
    const [{ EventRecorder }, { KubeApi }, { grantChangeTookEffect, warningEvents }] = await Promise.all([
      import('../cluster/eventRecorder.js'),
      import('../cluster/kubeApi.js'),
      import('../rules/warningEvents.js'),
    ]);
    const recorder = new EventRecorder({
      api: new KubeApi(liveKubeConfig),
      logger,
      onResult: (result) => metrics.events.inc({ result }),
      grantChangeTookEffect: (after) => grantChangeTookEffect(source.view, after),
    });
    onDecided = (request, verdict) => recorder.record(warningEvents(request, verdict, source.view));
    stopEvents = () => recorder.stop();
  }

  let tls;
  let selfManaged: SelfManagedCertificates | undefined;
  if (selfManagedCerts) {
    if (!liveKubeConfig) throw new UsageError('serve: --self-managed-certs needs a live cluster (--kubeconfig or in-cluster), not --manifests');
    const { SelfManagedCertificates } = await import('../cluster/selfManagedCertificates.js');
    selfManaged = new SelfManagedCertificates({ ...selfManagedCerts, kubeConfig: liveKubeConfig, dir: values['certs-dir'], logger });
    const files = await selfManaged.start();
    tls = { certFile: files.certFile, keyFile: files.keyFile };
  } else if (values['tls-cert'] && values['tls-key']) {
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
    ...(onDecided ? { onDecided } : {}),
    tls: values['client-ca'] ? { ...tls, clientCaFile: values['client-ca'] } : tls,
  });
  logger.info({ url: server.url, metricsUrl: `${server.metricsUrl}/metrics` }, 'kgateway-admission serving');

  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      logger.info({ signal }, 'shutting down: finishing in-flight requests');
      selfManaged?.stop();
      stopEvents();
      // Give the reports Lease up first, so another replica takes over at once.
      Promise.resolve(reports?.stop())
        .then(() => server.close())
        .then(resolve, (error: unknown) => {
          logger.error({ err: error }, 'error during shutdown');
          resolve();
        });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}

const IN_CLUSTER_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** The --self-managed-certs settings, checked; undefined without the flag. */
function selfManagedOptions(values: {
  'self-managed-certs'?: boolean;
  namespace?: string;
  'secret-name'?: string;
  'service-name'?: string;
  'webhook-config'?: string[];
  'tls-cert'?: string;
  manifests?: string[];
}): { namespace: string; secretName: string; serviceName: string; webhookConfigs: string[] } | undefined {
  const related = ['namespace', 'secret-name', 'service-name', 'webhook-config'] as const;
  if (!values['self-managed-certs']) {
    const stray = related.filter((name) => values[name] !== undefined);
    if (stray.length > 0) throw new UsageError(`serve: --${stray.join(', --')} ${stray.length === 1 ? 'goes' : 'go'} only with --self-managed-certs`);
    return undefined;
  }
  if (values['tls-cert']) throw new UsageError('serve: give --self-managed-certs or --tls-cert/--tls-key, not both');
  if (values.manifests && values.manifests.length > 0) throw new UsageError('serve: --self-managed-certs needs a live cluster, not --manifests');
  const secretName = values['secret-name'];
  const serviceName = values['service-name'];
  if (!secretName || !serviceName) throw new UsageError('serve: --self-managed-certs needs --secret-name and --service-name');
  const namespace =
    values.namespace || process.env.POD_NAMESPACE || (existsSync(IN_CLUSTER_NAMESPACE) ? readFileSync(IN_CLUSTER_NAMESPACE, 'utf8').trim() : '');
  if (!namespace) throw new UsageError('serve: --self-managed-certs needs --namespace (or POD_NAMESPACE, or in-cluster credentials)');
  const webhookConfigs = (values['webhook-config'] ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  return { namespace, secretName, serviceName, webhookConfigs };
}
