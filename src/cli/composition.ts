import type { Logger } from 'pino';
import { AdmissionEngine } from '../admission/admissionEngine.js';
import {
  fileCertificateSource,
  generatedCertificateSource,
  selfManagedCertificateSource,
  type CertificateSource,
} from '../certificates/source.js';
import { manifestClusterSource, type ClusterSource } from '../cluster/clusterSource.js';
import { viewOptionsFor } from '../cluster/inMemoryClusterView.js';
import type { KubeApi } from '../kube/kubeApi.js';
import { loadConfig, ruleSettings, type Config } from '../config/config.js';
import { podNamespace } from '../kube/podNamespace.js';
import type { RunningParametersCopier } from '../copies/parametersCopier.js';
import type { RunningReports } from '../reports/startReports.js';
import type { ProfileName } from '../rules/profiles.js';
import { buildRuleSet, handledKinds, type RuleSet } from '../rules/ruleSet.js';
import type { RuleSettings } from '../rules/settings.js';
import { builtInBackendRefKinds } from '../rules/backendRefKinds.js';
import { WEBHOOK_NAMES, webhookMatchConditions } from '../rules/matchConditions.js';
import type { AdmissionRequest, Verdict } from '../rules/types.js';
import { AdmissionMetrics } from '../server/metrics.js';
import { startServer, type RunningWebhookServer } from '../server/webhookServer.js';
import { serveLoggers } from '../logging/serveLoggers.js';
import { resolveProfile } from './profile.js';
import { UsageError } from './usage.js';

/**
 * The one place that wires the webhook: config → settings → rules → engine →
 * cluster source → certificates → server. `serve` parses its flags into
 * ServeOptions and calls composeWebhook; tests that run the real server in
 * process call startWebhookServer with a config, a cluster source and
 * certificate files of their own.
 */

export type { RunningWebhookServer } from '../server/webhookServer.js';

/** Where the serving certificate comes from. */
export type CertificateMode =
  | { mode: 'files'; certFile: string; keyFile: string }
  | { mode: 'generated'; dir: string }
  | { mode: 'self-managed'; dir: string; namespace: string; secretName: string; serviceName: string; webhookConfigs: string[] };

export interface ServeOptions {
  configFile?: string;
  /** Flags over the config's `server:` section. */
  server: Partial<Pick<Config['server'], 'host' | 'port' | 'metricsHost' | 'metricsPort' | 'healthPort'>>;
  profile?: ProfileName;
  /** The cluster view: manifest files, or list+watch of a live cluster (kubeconfig file, else $KUBECONFIG, else in-cluster). */
  cluster: { manifests: string[] } | { kubeconfig?: string };
  certificates: CertificateMode;
  clientCaFile?: string;
  events: boolean;
  reports?: { leaseDurationSeconds?: number };
}

export interface ComposedWebhook {
  logger: Logger;
  server: RunningWebhookServer;
  /** Stops in the order a graceful shutdown needs: events, the reports Lease, then the server and its sources. */
  stop(): Promise<void>;
}

export async function composeWebhook(options: ServeOptions): Promise<ComposedWebhook> {
  const config = await loadConfig(options.configFile);
  config.server = { ...config.server, ...definedOnly(options.server) };
  const { logger, decisionLogger } = serveLoggers(config.logLevel);

  const manifests = 'manifests' in options.cluster ? options.cluster.manifests : undefined;
  // The one API client of the process: the view, the reports, the events and the certificates share it.
  let api: KubeApi | undefined;
  let detect: (() => Promise<ProfileName>) | undefined;
  if (!('manifests' in options.cluster)) {
    // Only a live view loads the API client and the watch code.
    const [{ KubeApi }, { detectProfile, loadKubeConnection }] = await Promise.all([import('../kube/kubeApi.js'), import('../kube/kubeConnection.js')]);
    let connection;
    try {
      connection = await loadKubeConnection(options.cluster.kubeconfig);
    } catch (error) {
      throw new UsageError(`serve: cannot load the kubeconfig: ${(error as Error).message}`);
    }
    if (!connection) {
      throw new UsageError('serve: no cluster view: give --manifests PATH, or --kubeconfig FILE (or set KUBECONFIG, or run in a cluster)');
    }
    logger.info({ credentials: connection.source, server: connection.config.getCurrentCluster()?.server }, 'cluster credentials loaded');
    const live = new KubeApi(connection.config);
    api = live;
    detect = () => detectProfile(live);
  }
  const { profile, from } = await resolveProfile('serve', options.profile, config, detect);
  if (from === 'cluster') logger.info({ profile }, 'profile chosen from the CRDs the cluster serves');
  const settings = ruleSettings(config, profile, podNamespace() ?? 'default');
  // Copies are what make adding the ref safe where the object is missing: without the copier the mutation must not count on them.
  if (settings.copyParameters && manifests) throw new UsageError('serve: mutation.copyParameters needs a live cluster (--kubeconfig or in-cluster), not --manifests');
  logger.info({ profile, parametersRef: settings.parametersRef }, 'rules configured');
  const metrics = new AdmissionMetrics({ kinds: handledKinds(settings).map((k) => k.kind) });

  // One rule set for admission and the reports.
  const ruleSet = buildRuleSet(settings);
  let reports: RunningReports | undefined;
  let copier: RunningParametersCopier | undefined;
  const source = manifests
    ? await manifestClusterSource(manifests, viewOptionsFor(settings))
    : await liveSource(api!, config, settings, options.reports !== undefined, logger, metrics, () => {
        reports?.changed();
        copier?.changed();
      });
  if (settings.copyParameters && api) {
    const { startParametersCopier } = await import('../copies/parametersCopier.js');
    copier = startParametersCopier({
      api,
      logger,
      settings: { ...settings, copyParameters: settings.copyParameters },
      view: source.view,
      // Outside a pod (a kubeconfig on a workstation) the Lease goes to default.
      leaseNamespace: podNamespace() ?? 'default',
    });
  }

  if (options.reports) {
    if (!api) throw new UsageError('serve: --reports needs a live cluster (--kubeconfig or in-cluster), not --manifests');
    const { leaseDurationSeconds } = options.reports;
    const { startReports } = await import('../reports/startReports.js');
    const { podNamespace } = await import('../kube/podNamespace.js');
    reports = startReports({
      api,
      logger,
      metrics,
      settings,
      ruleSet,
      view: source.view,
      objects: () => source.auditedObjects?.() ?? [],
      // Outside a pod (a kubeconfig on a workstation) the Lease goes to default.
      leaseNamespace: podNamespace() ?? 'default',
      ...(leaseDurationSeconds ? { leaseDurationSeconds } : {}),
    });
  }
  let onDecided: ((request: AdmissionRequest, verdict: Verdict) => void) | undefined;
  let stopEvents = (): void => {};
  if (options.events) {
    if (!api) throw new UsageError('serve: --events needs a live cluster (--kubeconfig or in-cluster), not --manifests');
    const [{ EventRecorder }, { grantChangeTookEffect, warningEvents }] = await Promise.all([import('../kube/eventRecorder.js'), import('../rules/warningEvents.js')]);
    const recorder = new EventRecorder({
      api,
      logger,
      onResult: (result) => metrics.events.inc({ result }),
      grantChangeTookEffect: (after) => grantChangeTookEffect(source.view, after),
    });
    onDecided = (request, verdict) => recorder.record(warningEvents(request, verdict, source.view));
    stopEvents = () => recorder.stop();
  }

  const certificates = await certificateSource(options.certificates, config, api, logger, options.clientCaFile, settings);
  const server = await startWebhookServer({ config, settings, ruleSet, source, certificates, logger, decisionLogger, metrics, ...(onDecided ? { onDecided } : {}) });
  logger.info({ url: server.url, metricsUrl: `${server.metricsUrl}/metrics`, ...(server.healthUrl ? { healthUrl: server.healthUrl } : {}) }, 'kgateway-admission serving');
  return {
    logger,
    server,
    async stop() {
      stopEvents();
      // Give the reports Lease up first, so another replica takes over at once.
      await reports?.stop();
      await copier?.stop();
      await server.close();
    },
  };
}

function definedOnly<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as Partial<T>;
}

async function liveSource(
  api: KubeApi,
  config: Config,
  settings: RuleSettings,
  audit: boolean,
  logger: Logger,
  metrics: AdmissionMetrics,
  onChange: () => void,
): Promise<ClusterSource> {
  const { LiveClusterSource } = await import('../cluster/liveClusterSource.js');
  return new LiveClusterSource({
    api,
    logger,
    settings,
    audit,
    onList: (resource, reason) => metrics.watchLists.inc({ resource, reason }),
    onChange,
    onWatchError: (resource) => metrics.watchErrors.inc({ resource }),
    rereads: { onReread: (result) => metrics.grantRereads.inc({ result }) },
    staleAfterMs: config.server.staleAfterSeconds * 1000,
  });
}

async function certificateSource(
  mode: CertificateMode,
  config: Config,
  api: KubeApi | undefined,
  logger: Logger,
  clientCaFile: string | undefined,
  settings: RuleSettings,
): Promise<CertificateSource> {
  const clientCa = clientCaFile ? { clientCaFile } : {};
  switch (mode.mode) {
    case 'files':
      return fileCertificateSource(mode, clientCa);
    case 'generated': {
      const hosts = [...new Set([config.server.host, 'localhost', '127.0.0.1'].filter((h) => h !== '0.0.0.0' && h !== '::'))];
      return generatedCertificateSource(mode.dir, hosts, {
        ...clientCa,
        onReady: (files) => logger.info({ dir: mode.dir, created: files.created, caFile: files.caFile }, 'using self-signed serving certificate'),
      });
    }
    case 'self-managed': {
      if (!api) throw new UsageError('serve: --self-managed-certs needs a live cluster (--kubeconfig or in-cluster), not --manifests');
      // Loaded only in this mode: it talks to the API server.
      const { SelfManagedCertificates } = await import('../certificates/selfManaged.js');
      const { mode: _mode, ...managed } = mode;
      // The conditions the chart renders for these settings: a webhook with others is reported.
      const conditions = webhookMatchConditions(settings, builtInBackendRefKinds);
      const matchConditions = new Map(Object.entries(WEBHOOK_NAMES).map(([hook, name]) => [name, conditions[hook as keyof typeof WEBHOOK_NAMES]]));
      return selfManagedCertificateSource(new SelfManagedCertificates({ ...managed, api, logger, matchConditions }), clientCa);
    }
  }
}

export interface WebhookOptions {
  config: Config;
  /** The rules' settings; from the config and its profile when not given. */
  settings?: RuleSettings;
  /** The rules of those settings, when the caller shares them (the reports); built from them when not given. */
  ruleSet?: RuleSet;
  source: ClusterSource;
  /** The serving certificate: a source, or files given (`tls`, polled every `certificatePollMs`). */
  certificates?: CertificateSource;
  tls?: { certFile: string; keyFile: string; clientCaFile?: string };
  certificatePollMs?: number;
  logger: Logger;
  decisionLogger?: Logger;
  metrics?: AdmissionMetrics;
  /** Told every decided request and its verdict, after the decision (e.g. Warning events). */
  onDecided?: (request: AdmissionRequest, verdict: Verdict) => void;
}

/**
 * The tail of the wiring, from settings on: rules → engine → server, with the
 * cluster source started before the port opens and stopped after it closes.
 */
export async function startWebhookServer(options: WebhookOptions): Promise<RunningWebhookServer> {
  const { config, source, logger } = options;
  const settings = options.settings ?? ruleSettings(config);
  const metrics = options.metrics ?? new AdmissionMetrics({ kinds: handledKinds(settings).map((k) => k.kind) });
  const certificates =
    options.certificates ??
    (options.tls
      ? fileCertificateSource(options.tls, {
          ...(options.tls.clientCaFile ? { clientCaFile: options.tls.clientCaFile } : {}),
          ...(options.certificatePollMs ? { pollMs: options.certificatePollMs } : {}),
        })
      : undefined);
  if (!certificates) throw new Error('startWebhookServer: give certificates or tls');
  const engine = new AdmissionEngine({
    ruleSet: options.ruleSet ?? buildRuleSet(settings),
    view: source.view,
    isReady: () => source.notReadyReason() === undefined,
    ...(source.reconsider ? { reconsider: source.reconsider.bind(source) } : {}),
    ...(options.onDecided ? { onDecided: options.onDecided } : {}),
    onConfirmation: (outcome, error) => {
      metrics.denialConfirmations.inc({ outcome });
      if (error) logger.warn({ err: error }, 'could not re-read ReferenceGrants before denying; denying on the cached view');
    },
  });
  const server = await startServer({
    engine,
    certificates,
    settings: config.server,
    logger,
    ...(options.decisionLogger ? { decisionLogger: options.decisionLogger } : {}),
    metrics,
    notReadyReason: () => source.notReadyReason(),
    beforeListening: () => source.start(),
  });
  const close = server.close.bind(server);
  return {
    ...server,
    async close() {
      await close();
      await source.stop();
    },
  };
}
