import { podNamespace } from '../kube/podNamespace.js';
import { composeWebhook, type CertificateMode } from './composition.js';
import { integerOption, parseCommandArgs, profileOption, UsageError } from './usage.js';

export const SERVE_USAGE = `Usage: kgateway-admission serve [--host H] [--port N] [--metrics-host H] [--metrics-port N] [--health-port N] [--config FILE] [--profile NAME]
         [--tls-cert FILE --tls-key FILE] [--client-ca FILE] [--certs-dir DIR]
         (--manifests PATH... | --kubeconfig FILE)
         [--self-managed-certs --secret-name NAME --service-name NAME [--namespace NS] [--webhook-config NAME...]]
         [--events] [--reports [--reports-lease-seconds N]]

Serves POST /mutate and /validate (AdmissionReview admission.k8s.io/v1) over
HTTPS, GET /healthz and /readyz on the same port (and over plain HTTP on
--health-port, when given), and GET /metrics over plain HTTP on
--metrics-port (both on --metrics-host, default --host). Without --tls-cert/--tls-key, a CA and serving
certificate are generated into --certs-dir (default certs/) and reused.
The cluster view comes from --manifests files, or from list+watch of a live
cluster: --kubeconfig, else $KUBECONFIG, else in-cluster credentials.
--profile (kgateway-v2.1, agentgateway-v2.2, kgateway-v2.3, kgateway-v2.4 or
agentgateway-v1; or profile: in the config) sets the controller names and
parameters kind; unset, a live cluster's CRDs decide (README: Support matrix).
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
      'health-port': { type: 'string' },
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
  const selfManaged = selfManagedOptions(values);
  const fromManifests = values.manifests !== undefined && values.manifests.length > 0;
  if (fromManifests && values.kubeconfig) throw new UsageError('serve: give --manifests or --kubeconfig, not both');
  if (values.reports && fromManifests) throw new UsageError('serve: --reports needs a live cluster (--kubeconfig or in-cluster), not --manifests');
  if (values['reports-lease-seconds'] !== undefined && !values.reports) throw new UsageError('serve: --reports-lease-seconds goes only with --reports');
  if (values.events && fromManifests) throw new UsageError('serve: --events needs a live cluster (--kubeconfig or in-cluster), not --manifests');
  const leaseDurationSeconds = integerOption('reports-lease-seconds', values['reports-lease-seconds'], 2, 3600);
  const certificates: CertificateMode = selfManaged
    ? { mode: 'self-managed', dir: values['certs-dir'], ...selfManaged }
    : values['tls-cert'] && values['tls-key']
      ? { mode: 'files', certFile: values['tls-cert'], keyFile: values['tls-key'] }
      : { mode: 'generated', dir: values['certs-dir'] };

  const webhook = await composeWebhook({
    ...(values.config ? { configFile: values.config } : {}),
    server: {
      host: values.host,
      port: integerOption('port', values.port, 0, 65535),
      metricsHost: values['metrics-host'],
      metricsPort: integerOption('metrics-port', values['metrics-port'], 0, 65535),
      healthPort: integerOption('health-port', values['health-port'], 0, 65535),
    },
    profile: profileOption(values.profile),
    cluster: fromManifests ? { manifests: values.manifests! } : { ...(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}) },
    certificates,
    ...(values['client-ca'] ? { clientCaFile: values['client-ca'] } : {}),
    events: values.events === true,
    ...(values.reports ? { reports: { ...(leaseDurationSeconds ? { leaseDurationSeconds } : {}) } } : {}),
  });

  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      webhook.logger.info({ signal }, 'shutting down: finishing in-flight requests');
      webhook.stop().then(resolve, (error: unknown) => {
        webhook.logger.error({ err: error }, 'error during shutdown');
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}

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
  const namespace = values.namespace || podNamespace();
  if (!namespace) throw new UsageError('serve: --self-managed-certs needs --namespace (or POD_NAMESPACE, or in-cluster credentials)');
  const webhookConfigs = (values['webhook-config'] ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  return { namespace, secretName, serviceName, webhookConfigs };
}
