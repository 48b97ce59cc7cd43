// The Helm chart, for real: helm (built from its Go module) lints and renders
// it in each certificate mode, a wrong value fails, every rendered object is
// server-side applied to a real kube-apiserver, and the server runs under the
// chart's ServiceAccount token: its lists and watches are allowed, nothing
// else is, and self-managed certificates work with exactly the chart's RBAC.
// On a chart target (node, kind: test/support/e2eTarget.ts) the chart is
// installed for real and the same promises are checked on its pods.
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { KubeApi } from '../../src/kube/kubeApi.js';
import { parseConfig } from '../../src/config/config.js';
import { PROFILES } from '../../src/rules/profiles.js';
import { builtInBackendRefKinds } from '../../src/rules/backendRefKinds.js';
import { GATEWAY_API_GROUP } from '../../src/rules/types.js';
import {
  chartCrdFiles,
  CHART_DIR,
  find,
  helmBinary,
  installCrdFiles,
  ensureNamespace,
  parseManifests,
  renderChart,
  runHelm,
  serverSideApply,
  serviceAccountKubeconfig,
  valuesArgs,
  type KubeObject,
} from '../chart/support.js';
import { freePorts, generateServingCert, kubeRequest, REPO_ROOT, startControlPlane, startWebhookServer, type ControlPlane } from '../../harness/index.ts';
import { describeOnlyOn, e2eTarget, type E2eCluster, type WebhookUnderTest } from '../support/e2eTarget.js';
import { httpListenerPolicy } from '../support/builders.js';
import { create, metricValue, PATHS, pollUntil } from './support.js';
import { COPIES_LEASE_NAME } from '../../src/copies/parametersCopier.js';


/**
 * The kinds of the built-in table that this cluster serves: the server
 * watches only those (the test CRDs are kgateway v2.2.0's, without
 * agentgateway 1.4's AgentgatewayModel).
 */
async function servedReferrerKinds(kc: import('@kubernetes/client-node').KubeConfig): Promise<{ group: string; kind: string }[]> {
  const api = new KubeApi(kc);
  const served = [];
  for (const { group, kind } of builtInBackendRefKinds) if (await api.discover(group, kind)) served.push({ group, kind });
  return served;
}

const target = await e2eTarget();
const ON_PROCESS_ONLY = 'it renders the chart in three modes, applies the objects to a bare API server and runs the server as a process under the chart token; on a chart target the chart is installed for real and its pods are checked below';

const CA_PEM = (await generateServingCert()).caPem;

const MODES = {
  selfManaged: {
    release: 'sm',
    namespace: 'kga-sm',
    values: { certificates: { mode: 'selfManaged' }, gatewayParameters: { create: true, kind: 'GatewayParameters', namespaces: ['team-a', 'team-b'] } },
  },
  certManager: {
    release: 'cm',
    namespace: 'kga-cm',
    values: {
      certificates: { mode: 'certManager' },
      serviceMonitor: { enabled: true, labels: { release: 'prometheus' } },
      gatewayParameters: { create: true, kind: 'AgentgatewayParameters', namespaces: ['team-a'] },
      config: { profile: 'agentgateway-v2.2' },
    },
  },
  secret: {
    release: 'sec',
    namespace: 'kga-sec',
    values: {
      certificates: { mode: 'secret', secret: { name: 'my-webhook-tls', caBundle: CA_PEM } },
      webhooks: {
        mutating: { failurePolicy: 'Ignore', timeoutSeconds: 3 },
        excludeNamespaces: ['flux-system'],
        objectSelector: { matchExpressions: [{ key: 'kgateway-admission.dev/ignore', operator: 'DoesNotExist' }] },
      },
      replicaCount: 3,
      config: { validation: { enforcement: 'warn' } },
      networkPolicy: { enabled: true, metricsNamespaces: ['monitoring', 'prometheus'], egress: [{ ports: [{ port: 6443, protocol: 'TCP' }] }] },
      clientAuth: { caBundle: CA_PEM },
    },
  },
} as const;
type Mode = keyof typeof MODES;
const MODE_NAMES = Object.keys(MODES) as Mode[];

const WEBHOOK_PLURALS = { MutatingWebhookConfiguration: 'mutatingwebhookconfigurations', ValidatingWebhookConfiguration: 'validatingwebhookconfigurations' } as const;

describeOnlyOn(target, ['process'], 'it reads files, the same on every target')('Helm chart documentation', () => {
  it('the chart README describes every value of values.yaml', async () => {
    const readme = await readFile(join(CHART_DIR, 'README.md'), 'utf8');
    const values = parseYaml(await readFile(join(CHART_DIR, 'values.yaml'), 'utf8')) as Record<string, unknown>;
    const leaves = (object: Record<string, unknown>, prefix = ''): string[] =>
      Object.entries(object).flatMap(([key, value]) =>
        value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0
          ? leaves(value as Record<string, unknown>, `${prefix}${key}.`)
          : [`${prefix}${key}`],
      );
    const undocumented = leaves(values).filter((path) => {
      const parts = path.split('.');
      return !parts.some((_, i) => readme.includes(`\`${parts.slice(0, i + 1).join('.')}\``) && (i === parts.length - 1 || !isObjectWithDocumentedChildren(parts.slice(0, i + 1).join('.'), readme)));
    });
    expect(undocumented).toEqual([]);
  });
});

/** A value documented as a whole (e.g. `resources`) covers its children unless the README documents children separately. */
function isObjectWithDocumentedChildren(path: string, readme: string): boolean {
  return readme.includes(`\`${path}.`);
}

describeOnlyOn(target, ['process'], ON_PROCESS_ONLY)('Helm chart against a real kube-apiserver', () => {
  let helm: string;
  let cp: ControlPlane;
  let kubeVersion: string;
  let work: string;
  const rendered = {} as Record<Mode, KubeObject[]>;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    helm = await helmBinary();
    const [started, crdFiles] = await Promise.all([startControlPlane(), chartCrdFiles()]);
    cp = started;
    kubeVersion = cp.versions.kubernetes;
    work = await mkdtemp(join(tmpdir(), 'kga-chart-'));
    await installCrdFiles(cp.kubeConfig, crdFiles);
    for (const mode of MODE_NAMES) {
      const { release, namespace, values } = MODES[mode];
      rendered[mode] = await renderChart(helm, release, namespace, values, ['--kube-version', kubeVersion]);
    }
  });

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await cp?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it.each(MODE_NAMES)('helm lint --strict passes in %s mode', async (mode) => {
    const res = await runHelm(helm, ['lint', '--strict', CHART_DIR, '--namespace', MODES[mode].namespace, ...(await valuesArgs(MODES[mode].values))]);
    expect(res.code, res.stdout + res.stderr).toBe(0);
    expect(res.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
  });

  it.each([
    [{ certificates: { mode: 'vault' } }, "at '/certificates/mode': value must be one of 'selfManaged', 'certManager', 'secret'"],
    [{ certificates: { mode: 'secret' } }, "at '/certificates/secret/name'"],
    [{ certificates: { mode: 'secret', secret: { name: 'x', caBundle: 'not a PEM' } } }, "at '/certificates/secret/caBundle'"],
    [{ webhooks: { mutating: { failurePolicy: 'Sometimes' } } }, "at '/webhooks/mutating/failurePolicy'"],
    [{ webhooks: { validating: { timeoutSeconds: 31 } } }, "at '/webhooks/validating/timeoutSeconds'"],
    [{ replicaCount: 0 }, "at '/replicaCount'"],
    [{ replicas: 2 }, "additional properties 'replicas' not allowed"],
    [{ config: { validation: { grantGuard: 'maybe' } } }, "at '/config/validation/grantGuard'"],
    [{ config: { validation: { enforcement: 'audit' } } }, "at '/config/validation/enforcement'"],
    [{ config: { server: { prot: 1 } } }, "additional properties 'prot' not allowed"],
    [{ image: { digest: 'latest' } }, "at '/image/digest'"],
    [{ certificates: { mode: 'certManager', certManager: { issuerRef: { kind: 'ClusterIssuer' } } } }, "missing property 'name'"],
  ])('a wrong value fails: %j', async (values, message) => {
    const res = await runHelm(helm, ['template', 'bad', CHART_DIR, ...(await valuesArgs(values))]);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain("values don't meet the specifications of the schema");
    expect(res.stderr).toContain(message);
  });

  it('a wrong value fails `helm install` itself, before anything is created', async () => {
    const res = await runHelm(helm, ['install', 'bad', CHART_DIR, '--namespace', 'default', '--kubeconfig', cp.kubeconfigPath, '--set', 'webhooks.validating.failurePolicy=Never']);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain("at '/webhooks/validating/failurePolicy'");
    const secrets = await kubeRequest(cp.kubeConfig, 'GET', '/api/v1/namespaces/default/secrets?labelSelector=owner%3Dhelm,name%3Dbad');
    expect(secrets.body.items).toEqual([]);
  });

  it('runs non-root on a read-only root filesystem, with probes, resources and spread replicas', () => {
    const objects = rendered.selfManaged;
    const deployment = find(objects, 'Deployment');
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    expect(deployment.spec.replicas).toBe(2);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container.securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(container.resources.limits).toMatchObject({ memory: expect.any(String) });
    // A young generation big enough that request garbage dies young (values.yaml nodeOptions).
    expect(container.env).toContainEqual({ name: 'NODE_OPTIONS', value: '--max-semi-space-size=8' });
    // The probes on the health port (issue 21 item 5): a client filling the admission port's slots cannot fail them.
    expect(container.ports).toContainEqual({ name: 'health', containerPort: 8081, protocol: 'TCP' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'health', scheme: 'HTTP' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'health', scheme: 'HTTP' });
    expect(container.lifecycle.preStop.sleep.seconds).toBe(5);
    expect(pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey).toBe('kubernetes.io/hostname');
    expect(pod.topologySpreadConstraints.map((c: { topologyKey: string }) => c.topologyKey)).toEqual(['topology.kubernetes.io/zone', 'kubernetes.io/hostname']);
    expect(find(objects, 'PodDisruptionBudget').spec).toMatchObject({ minAvailable: 1, selector: deployment.spec.selector });
    // Only the emptyDirs are writable: the certificates folder and /tmp.
    const writable = container.volumeMounts.filter((m: { readOnly?: boolean }) => !m.readOnly).map((m: { name: string }) => m.name);
    expect(writable.sort()).toEqual(['certs', 'tmp']);
    expect(pod.volumes.filter((v: { emptyDir?: unknown }) => v.emptyDir).map((v: { name: string }) => v.name).sort()).toEqual(['certs', 'tmp']);
    expect(container.args).toEqual(
      expect.arrayContaining([
        'serve',
        '--self-managed-certs',
        '--namespace=$(POD_NAMESPACE)',
        '--secret-name=sm-kgateway-admission-tls',
        '--service-name=sm-kgateway-admission',
        '--webhook-config=sm-kgateway-admission',
      ]),
    );
    // With a Secret, the certificate is mounted read-only and reloaded when the kubelet swaps it.
    const secretPod = find(rendered.secret, 'Deployment').spec.template.spec;
    expect(secretPod.volumes.find((v: { name: string }) => v.name === 'tls').secret.secretName).toBe('my-webhook-tls');
    expect(secretPod.containers[0].args).toEqual(expect.arrayContaining(['--tls-cert=/etc/kgateway-admission/tls/tls.crt', '--tls-key=/etc/kgateway-admission/tls/tls.key']));
    expect(find(rendered.secret, 'Deployment').spec.replicas).toBe(3);
  });

  it('registers the webhooks with the fields and selectors from the values', () => {
    for (const mode of MODE_NAMES) {
      const { namespace, release } = MODES[mode];
      const mutating = find(rendered[mode], 'MutatingWebhookConfiguration');
      const validating = find(rendered[mode], 'ValidatingWebhookConfiguration');
      const webhooks = [...mutating.webhooks, ...validating.webhooks];
      expect(webhooks.map((w: { name: string }) => w.name)).toEqual([
        'gateways.mutate.kgateway-admission.kgateway.dev',
        'policies.validate.kgateway-admission.kgateway.dev',
        'referencegrants.validate.kgateway-admission.kgateway.dev',
      ]);
      for (const webhook of webhooks) {
        expect(webhook).toMatchObject({ sideEffects: 'None', admissionReviewVersions: ['v1'], matchPolicy: 'Equivalent' });
        expect(webhook.clientConfig.service).toMatchObject({ name: `${release}-kgateway-admission`, namespace, port: 443 });
        const excluded = webhook.namespaceSelector.matchExpressions[0];
        expect(excluded).toMatchObject({ key: 'kubernetes.io/metadata.name', operator: 'NotIn' });
        expect(excluded.values).toEqual(expect.arrayContaining(['kube-system', namespace]));
      }
      const [gateways, policies, grants] = webhooks;
      // Every version: a kgateway release that stops serving v1alpha1 must not end validation; the server denies versions it cannot read.
      for (const webhook of webhooks) for (const rule of webhook.rules) expect(rule.apiVersions).toEqual(['*']);
      expect(gateways.rules).toEqual([{ apiGroups: ['gateway.networking.k8s.io'], apiVersions: ['*'], resources: ['gateways'], operations: ['CREATE', 'UPDATE'], scope: 'Namespaced' }]);
      expect(policies.rules.flatMap((r: { resources: string[] }) => r.resources)).toEqual(['httplistenerpolicies', 'listenerpolicies', 'gatewayextensions', 'trafficpolicies', 'agentgatewaypolicies', 'agentgatewaybackends', 'agentgatewaymodels']);
      expect(grants.rules).toEqual([{ apiGroups: ['gateway.networking.k8s.io'], apiVersions: ['*'], resources: ['referencegrants'], operations: ['UPDATE', 'DELETE'], scope: 'Namespaced' }]);
      expect(policies.failurePolicy).toBe('Fail');
      expect(grants.failurePolicy).toBe('Ignore');
    }
    const secretHooks = find(rendered.secret, 'MutatingWebhookConfiguration').webhooks[0];
    expect(secretHooks).toMatchObject({ failurePolicy: 'Ignore', timeoutSeconds: 3, objectSelector: MODES.secret.values.webhooks.objectSelector });
    expect(secretHooks.namespaceSelector.matchExpressions[0].values).toEqual(['kube-system', 'kga-sec', 'flux-system']);
    expect(find(rendered.selfManaged, 'MutatingWebhookConfiguration').webhooks[0]).toMatchObject({ failurePolicy: 'Fail', timeoutSeconds: 5 });
    expect(find(rendered.selfManaged, 'MutatingWebhookConfiguration').webhooks[0].objectSelector).toBeUndefined();
    // Certificates: caBundle from the values, the CA injector's annotation, or none (the server sets it).
    expect(Buffer.from(secretHooks.clientConfig.caBundle, 'base64').toString()).toBe(CA_PEM);
    const cmMutating = find(rendered.certManager, 'MutatingWebhookConfiguration');
    expect(cmMutating.metadata.annotations).toEqual({ 'cert-manager.io/inject-ca-from': 'kga-cm/cm-kgateway-admission-serving' });
    expect(cmMutating.webhooks[0].clientConfig.caBundle).toBeUndefined();
    const serving = find(rendered.certManager, 'Certificate', 'cm-kgateway-admission-serving');
    expect(serving.spec.dnsNames).toContain('cm-kgateway-admission.kga-cm.svc');
    expect(serving.spec.secretName).toBe(find(rendered.certManager, 'Deployment').spec.template.spec.volumes.find((v: { name: string }) => v.name === 'tls').secret.secretName);
    expect(find(rendered.selfManaged, 'MutatingWebhookConfiguration').webhooks[0].clientConfig.caBundle).toBeUndefined();
  });

  it("certManager mode: the chart's CA lives 1 year and is renewed with a new key; a CA that a serving certificate could outlive is refused", async () => {
    const ca = find(rendered.certManager, 'Certificate', 'cm-kgateway-admission-ca');
    expect(ca.spec).toMatchObject({ isCA: true, duration: '8760h', privateKey: { algorithm: 'ECDSA', rotationPolicy: 'Always' } });
    // cert-manager's default renewal: with a third of the lifetime left (~4 months), as selfManaged rotates its CA.
    expect(ca.spec.renewBefore).toBeUndefined();
    expect(ca.spec.renewBeforePercentage).toBeUndefined();
    const serving = find(rendered.certManager, 'Certificate', 'cm-kgateway-admission-serving');
    expect(serving.spec).toMatchObject({ duration: '2160h', renewBefore: '360h', privateKey: { rotationPolicy: 'Always' }, issuerRef: { name: 'cm-kgateway-admission-ca', kind: 'Issuer' } });
    const cases: [Record<string, unknown>, boolean][] = [
      [{ caDuration: '6480h' }, true], // exactly 3 × the default 2160h
      [{ caDuration: '388800m' }, true], // the same in minutes
      [{ caDuration: '6479h59m' }, false],
      [{ caDuration: '87600h' }, true],
      [{ caDuration: '4320h', duration: '1440h', renewBefore: '240h' }, true],
      [{ caDuration: '2h', duration: '1h0m1s' }, false],
      // With an issuer of yours the chart makes no CA and checks nothing.
      [{ caDuration: '1h', issuerRef: { name: 'corp', kind: 'ClusterIssuer', group: 'cert-manager.io' } }, true],
    ];
    for (const [certManager, renders] of cases) {
      const res = await runHelm(helm, ['template', 'cm', CHART_DIR, ...(await valuesArgs({ certificates: { mode: 'certManager', certManager } }))]);
      expect(res.code === 0, `${JSON.stringify(certManager)}: ${res.stderr}`).toBe(renders);
      if (!renders) expect(res.stderr).toContain('must be at least 3 times certificates.certManager.duration');
    }
  });

  it("renders the config file from values, valid for the server, and the chart's schema of it is the server's", async () => {
    for (const mode of MODE_NAMES) {
      const text = find(rendered[mode], 'ConfigMap', `${MODES[mode].release}-kgateway-admission`).data['config.yaml'];
      expect(() => parseConfig(parseYaml(text), `${mode} config.yaml`)).not.toThrow();
    }
    expect(parseYaml(find(rendered.certManager, 'ConfigMap', `${MODES.certManager.release}-kgateway-admission`).data['config.yaml']).profile).toBe('agentgateway-v2.2');
    // The warn phase, beside the grant guard's mode: deny unless set.
    expect(parseYaml(find(rendered.selfManaged, 'ConfigMap', `${MODES.selfManaged.release}-kgateway-admission`).data['config.yaml']).validation).toMatchObject({ grantGuard: 'warn', enforcement: 'deny' });
    expect(parseYaml(find(rendered.secret, 'ConfigMap', `${MODES.secret.release}-kgateway-admission`).data['config.yaml']).validation).toMatchObject({ grantGuard: 'warn', enforcement: 'warn' });
    const chartSchema = JSON.parse(await readFile(join(CHART_DIR, 'values.schema.json'), 'utf8')).properties.config;
    const { $schema: _s, $id: _i, title: _t, ...serverSchema } = JSON.parse(await readFile(join(REPO_ROOT, 'src', 'config', 'config.schema.json'), 'utf8'));
    const { description: _d, ...chartConfig } = chartSchema;
    expect(chartConfig).toEqual(serverSchema);
  });

  it('creates the OTEL parameters object of the right kind in each listed namespace', () => {
    const gatewayParameters = rendered.selfManaged.filter((o) => o.kind === 'GatewayParameters');
    expect(gatewayParameters.map((o) => `${o.metadata.namespace}/${o.metadata.name}`)).toEqual(['team-a/agentgateway-otel', 'team-b/agentgateway-otel']);
    expect(gatewayParameters[0]!.spec.kube.agentgateway.env.map((e: { name: string }) => e.name)).toEqual([
      'OTEL_EXPORTER_OTLP_ENDPOINT',
      'OTEL_EXPORTER_OTLP_PROTOCOL',
      'OTEL_SERVICE_NAME',
      'OTEL_TRACES_EXPORTER',
      'OTEL_LOGS_EXPORTER',
    ]);
    const agentgateway = find(rendered.certManager, 'AgentgatewayParameters');
    expect(agentgateway.spec.env[0]).toEqual({ name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: 'http://otel-collector-collector.monitoring.svc.cluster.local:4317' });
    expect(find(rendered.certManager, 'ServiceMonitor').spec.endpoints[0]).toMatchObject({ port: 'metrics', path: '/metrics', scheme: 'http' });
  });

  it('config.server.metricsTls: the ServiceMonitor scrapes https with serviceMonitor.tlsConfig, the Service port says https; healthPort null probes the HTTPS port', async () => {
    const tls = await renderChart(helm, 'mt', 'kga-mt', {
      config: { server: { metricsTls: true, healthPort: null } },
      serviceMonitor: { enabled: true, tlsConfig: { serverName: 'mt-kgateway-admission.kga-mt.svc' } },
    });
    expect(find(tls, 'ServiceMonitor').spec.endpoints[0]).toMatchObject({ scheme: 'https', tlsConfig: { serverName: 'mt-kgateway-admission.kga-mt.svc' } });
    expect(find(tls, 'Service').spec.ports).toContainEqual({ name: 'metrics', port: 9090, targetPort: 'metrics', protocol: 'TCP', appProtocol: 'https' });
    const config = parseYaml(find(tls, 'ConfigMap').data['config.yaml']);
    expect(config.server.metricsTls).toBe(true);
    expect(config.server).not.toHaveProperty('healthPort');
    const container = find(tls, 'Deployment').spec.template.spec.containers[0];
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'https', scheme: 'HTTPS' });
    expect(container.ports.map((p: { name: string }) => p.name)).toEqual(['https', 'metrics']);
  });

  it('kube-apiserver accepts every rendered object of every mode (server-side apply, no dry-run)', async () => {
    for (const ns of ['team-a', 'team-b', ...MODE_NAMES.map((m) => MODES[m].namespace)]) await ensureNamespace(cp.kubeConfig, ns);
    const applied: string[] = [];
    for (const mode of MODE_NAMES) {
      for (const object of rendered[mode]) {
        const stored = await serverSideApply(cp.kubeConfig, object, MODES[mode].namespace);
        expect(stored.metadata.name).toBe(object.metadata.name);
        applied.push(`${mode}: ${object.kind}/${object.metadata.name}`);
      }
    }
    const kinds = new Set(applied.map((a) => a.split(': ')[1]!.split('/')[0]));
    for (const kind of ['Deployment', 'Service', 'ServiceAccount', 'ConfigMap', 'PodDisruptionBudget', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration', 'Issuer', 'Certificate', 'ServiceMonitor', 'GatewayParameters', 'AgentgatewayParameters', 'FlowSchema', 'PriorityLevelConfiguration', 'NetworkPolicy', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']) {
      expect(kinds, kind).toContain(kind);
    }
    process.stderr.write(`[chart] applied ${applied.length} objects to kube-apiserver ${kubeVersion}\n`);
    // The webhooks as stored keep what was rendered (no defaulting surprises).
    const stored = await kubeRequest(cp.kubeConfig, 'GET', `/apis/admissionregistration.k8s.io/v1/${WEBHOOK_PLURALS.ValidatingWebhookConfiguration}/sec-kgateway-admission`);
    expect(stored.body.webhooks[0]).toMatchObject({ failurePolicy: 'Fail', matchPolicy: 'Equivalent', sideEffects: 'None', timeoutSeconds: 5 });
  });

  it("puts the ServiceAccount's API requests at a priority level of its own, unless apiPriorityAndFairness.enabled=false", async () => {
    const flowSchema = find(rendered.selfManaged, 'FlowSchema', 'sm-kgateway-admission');
    const level = find(rendered.selfManaged, 'PriorityLevelConfiguration', 'sm-kgateway-admission');
    expect(flowSchema.spec.priorityLevelConfiguration).toEqual({ name: 'sm-kgateway-admission' });
    expect(flowSchema.spec.rules[0].subjects).toEqual([{ kind: 'ServiceAccount', serviceAccount: { name: 'sm-kgateway-admission', namespace: 'kga-sm' } }]);
    expect(level.spec).toMatchObject({ type: 'Limited', limited: { nominalConcurrencyShares: 10, limitResponse: { type: 'Queue', queuing: { queueLengthLimit: 50 } } } });
    const off = await renderChart(helm, 'off', 'kga-off', { apiPriorityAndFairness: { enabled: false } }, ['--kube-version', kubeVersion]);
    expect(off.filter((o) => o.kind === 'FlowSchema' || o.kind === 'PriorityLevelConfiguration')).toEqual([]);
  });

  it('security defaults: system-cluster-critical priority, /metrics on the pod IP, no objectSelector an author could use to opt out', async () => {
    const pod = find(rendered.selfManaged, 'Deployment').spec.template.spec;
    const container = pod.containers[0];
    expect(pod.priorityClassName).toBe('system-cluster-critical');
    expect(container.env).toContainEqual({ name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } });
    expect(container.args).toContain('--metrics-host=$(POD_IP)');
    expect(container.args.some((a: string) => a.startsWith('--client-ca'))).toBe(false);
    for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) {
      for (const webhook of find(rendered.selfManaged, kind).webhooks) expect(webhook.objectSelector, kind).toBeUndefined();
    }
    // values.yaml no longer suggests an objectSelector on a label the object's author sets.
    const values = await readFile(join(CHART_DIR, 'values.yaml'), 'utf8');
    expect(values).not.toMatch(/kgateway-admission\.dev\/ignore/);
    expect(rendered.selfManaged.filter((o) => o.kind === 'NetworkPolicy')).toEqual([]);
    // An explicit config.server.metricsHost wins over the pod IP.
    const explicit = await renderChart(helm, 'mh', 'kga-mh', { config: { server: { metricsHost: '127.0.0.1' } } });
    expect(find(explicit, 'Deployment').spec.template.spec.containers[0].args).not.toContain('--metrics-host=$(POD_IP)');
  });

  it('networkPolicy and clientAuth: the admission port from anywhere, /metrics from the listed namespaces, --client-ca from a ConfigMap', () => {
    const policy = find(rendered.secret, 'NetworkPolicy', 'sec-kgateway-admission');
    const deployment = find(rendered.secret, 'Deployment');
    expect(policy.spec.podSelector).toEqual(deployment.spec.selector);
    expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(policy.spec.ingress).toEqual([
      { ports: [{ port: 'https', protocol: 'TCP' }] },
      { ports: [{ port: 'health', protocol: 'TCP' }] },
      { ports: [{ port: 'metrics', protocol: 'TCP' }], from: [{ namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['monitoring', 'prometheus'] }] } }] },
    ]);
    expect(policy.spec.egress).toEqual([{ ports: [{ port: 6443, protocol: 'TCP' }] }]);
    const pod = deployment.spec.template.spec;
    expect(pod.containers[0].args).toContain('--client-ca=/etc/kgateway-admission/client-ca/ca.crt');
    expect(pod.containers[0].volumeMounts).toContainEqual({ name: 'client-ca', mountPath: '/etc/kgateway-admission/client-ca', readOnly: true });
    expect(pod.volumes).toContainEqual({ name: 'client-ca', configMap: { name: 'sec-kgateway-admission-client-ca' } });
    expect(find(rendered.secret, 'ConfigMap', 'sec-kgateway-admission-client-ca').data['ca.crt'].trim()).toBe(CA_PEM.trim());
  });

  it('kube-apiserver stores the NetworkPolicy as rendered, and gives a pod of the Deployment the system-cluster-critical priority', async () => {
    const stored = await kubeRequest(cp.kubeConfig, 'GET', '/apis/networking.k8s.io/v1/namespaces/kga-sec/networkpolicies/sec-kgateway-admission');
    expect(stored.status, stored.text).toBe(200);
    expect(stored.body.spec.ingress).toEqual(find(rendered.secret, 'NetworkPolicy').spec.ingress);
    // No kubelet or CNI runs here: nothing enforces the policy, the API server only validates and stores it.
    const template = find(rendered.selfManaged, 'Deployment').spec.template;
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'priority-probe', namespace: 'kga-sm', labels: template.metadata.labels }, spec: template.spec };
    const created = await kubeRequest(cp.kubeConfig, 'POST', '/api/v1/namespaces/kga-sm/pods', { body: pod });
    expect(created.status, created.text).toBe(201);
    expect(created.body.spec.priorityClassName).toBe('system-cluster-critical');
    expect(created.body.spec.priority).toBe(2_000_000_000);
    await kubeRequest(cp.kubeConfig, 'DELETE', '/api/v1/namespaces/kga-sm/pods/priority-probe?gracePeriodSeconds=0');
  });

  it('with the grant guard off, the ClusterRole leaves out the kinds with backendRefs (AgentgatewayBackends may hold credentials)', async () => {
    const off = await renderChart(helm, 'off', 'kga-off', { config: { validation: { grantGuard: 'off' } } });
    const role = find(off, 'ClusterRole', 'off-kgateway-admission');
    const resources = (role.rules as { resources: string[] }[]).flatMap((r) => r.resources).sort();
    // namespaces: the warn-mode label, metadata only; not a kind with backendRefs.
    expect(resources).toEqual(['agentgatewayparameters', 'gatewayclasses', 'gatewayparameters', 'namespaces', 'referencegrants']);
    expect(find(off, 'ValidatingWebhookConfiguration').webhooks.map((w: { name: string }) => w.name)).toEqual(['policies.validate.kgateway-admission.kgateway.dev']);
  });

  it('parameter copies: no write access unless config.mutation.copyParameters.enabled; then the parameters kind cluster-wide, Gateways, and the Lease', async () => {
    for (const mode of MODE_NAMES) expect(rendered[mode].filter((o) => o.metadata?.name?.includes('parameter-copies')), mode).toEqual([]);
    const on = await renderChart(helm, 'cp', 'kga-cp', { config: { profile: 'agentgateway-v2.2', mutation: { copyParameters: { enabled: true } } } });
    expect(find(on, 'ClusterRole', 'cp-kgateway-admission-parameter-copies').rules).toEqual([
      { apiGroups: ['agentgateway.dev'], resources: ['agentgatewayparameters'], verbs: ['get', 'list', 'watch', 'create', 'update', 'delete'] },
      { apiGroups: ['gateway.networking.k8s.io'], resources: ['gateways'], verbs: ['list', 'watch'] },
    ]);
    expect(find(on, 'Role', 'cp-kgateway-admission-parameter-copies-lease').rules).toContainEqual({
      apiGroups: ['coordination.k8s.io'],
      resources: ['leases'],
      resourceNames: [COPIES_LEASE_NAME],
      verbs: ['get', 'update'],
    });
    expect(find(on, 'ClusterRoleBinding', 'cp-kgateway-admission-parameter-copies').subjects).toEqual([{ kind: 'ServiceAccount', name: 'cp-kgateway-admission', namespace: 'kga-cp' }]);
    // Without a profile or kind, serve picks the kind from the cluster: both kinds.
    const either = await renderChart(helm, 'cp', 'kga-cp', { config: { mutation: { copyParameters: { enabled: true } } } });
    const resources = (find(either, 'ClusterRole', 'cp-kgateway-admission-parameter-copies').rules as { resources: string[] }[]).flatMap((r) => r.resources);
    expect(resources).toEqual(['gatewayparameters', 'agentgatewayparameters', 'gateways']);
  });

  it.each(Object.entries(PROFILES))('parameter copies with profile %s: write access to that profile\'s parameters kind only, and the chart\'s own parameters object of that kind', async (profile, { parametersRef }) => {
    const on = await renderChart(helm, 'cp', 'kga-cp', { config: { profile, mutation: { copyParameters: { enabled: true } } }, gatewayParameters: { create: true, namespaces: ['kga-cp'] } });
    expect(find(on, 'ClusterRole', 'cp-kgateway-admission-parameter-copies').rules).toEqual([
      // Both kinds' plural is the kind in lower case (kgateway's and agentgateway's CRDs).
      { apiGroups: [parametersRef.group], resources: [parametersRef.kind.toLowerCase()], verbs: ['get', 'list', 'watch', 'create', 'update', 'delete'] },
      { apiGroups: ['gateway.networking.k8s.io'], resources: ['gateways'], verbs: ['list', 'watch'] },
    ]);
    // The source the copier copies (gatewayParameters.create), of the kind the profile's Gateways point at.
    expect(on.filter((o) => o.metadata?.name === 'agentgateway-otel').map((o) => `${o.apiVersion}/${o.kind}`)).toEqual([`${parametersRef.group}/v1alpha1/${parametersRef.kind}`]);
  });

  it.each(['GatewayParameters', 'AgentgatewayParameters'])('parameter copies with config.mutation.parametersRef.kind %s: write access to its plural, as the API server names it', async (kind) => {
    const on = await renderChart(helm, 'cp', 'kga-cp', { config: { mutation: { parametersRef: { name: 'otel', kind }, copyParameters: { enabled: true } } } });
    const [rule] = find(on, 'ClusterRole', 'cp-kgateway-admission-parameter-copies').rules as { resources: string[] }[];
    expect(rule!.resources).toEqual([kind.toLowerCase()]);
  });

  it('the ClusterRole grants list and watch of exactly the kinds the server watches', async () => {
    const api = new KubeApi(cp.kubeConfig);
    const watched = [
      { group: GATEWAY_API_GROUP, kind: 'ReferenceGrant' },
      { group: GATEWAY_API_GROUP, kind: 'GatewayClass' },
      ...Object.values(PROFILES).map((p) => p.parametersRef),
      ...(await servedReferrerKinds(cp.kubeConfig)),
    ];
    const expected = new Set<string>();
    for (const { group, kind } of watched) {
      const resource = await api.discover(group, kind);
      expect(resource, `${kind}.${group} is served`).toBeDefined();
      expected.add(`${group}/${resource!.plural}`);
    }
    // Core Namespaces (the enforcement label), served everywhere.
    expected.add('/namespaces');
    // Kinds of the table that other releases serve (agentgateway 1.4's
    // AgentgatewayModel): granted for the clusters that serve them.
    const served = new Set((await servedReferrerKinds(cp.kubeConfig)).map((k) => `${k.group}/${k.kind}`));
    for (const { group, kind } of builtInBackendRefKinds) {
      if (!served.has(`${group}/${kind}`)) expected.add(`${group}/${kind.toLowerCase().replace(/y$/, 'ie')}s`);
    }
    const role = find(rendered.selfManaged, 'ClusterRole', 'sm-kgateway-admission');
    const granted = new Set<string>();
    for (const rule of role.rules as { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }[]) {
      expect(rule.verbs.slice().sort()).toEqual(['list', 'watch']);
      expect(rule.resourceNames).toBeUndefined();
      for (const group of rule.apiGroups) for (const resource of rule.resources) granted.add(`${group}/${resource}`);
    }
    expect([...granted].sort()).toEqual([...expected].sort());
  });

  describe("under the chart's ServiceAccount (helm install, TokenRequest token)", () => {
    const release = 'hi';
    const namespace = 'kga-helm';
    const fullname = `${release}-kgateway-admission`;
    const secretName = `${fullname}-tls`;
    let kubeconfig: string;
    let configFile: string;
    let saKc: import('@kubernetes/client-node').KubeConfig;

    beforeAll(async () => {
      const res = await runHelm(helm, ['install', release, CHART_DIR, '--namespace', namespace, '--create-namespace', '--kubeconfig', cp.kubeconfigPath]);
      expect(res.code, res.stderr).toBe(0);
      const manifest = parseManifests((await runHelm(helm, ['get', 'manifest', release, '--namespace', namespace, '--kubeconfig', cp.kubeconfigPath])).stdout);
      configFile = join(work, 'config.yaml');
      await writeFile(configFile, find(manifest, 'ConfigMap').data['config.yaml']);
      kubeconfig = await serviceAccountKubeconfig(cp, namespace, fullname, work);
      const { KubeConfig } = await import('@kubernetes/client-node');
      saKc = new KubeConfig();
      saKc.loadFromFile(kubeconfig);
    });

    it.each(['kgateway-v2.1', 'agentgateway-v2.2'])('the server (profile %s) gets every first list and keeps its watches', async (profile) => {
      // The chart's health port (8081) is for the pod; here, a free one.
      const [healthPort] = await freePorts(1);
      const server = await startWebhookServer({ kubeconfigPath: kubeconfig, extraArgs: ['--config', configFile, '--profile', profile, '--health-port', String(healthPort!)], readyTimeoutMs: 20_000 });
      try {
        // startWebhookServer waited for /readyz: every list+watch synced with the token.
        expect(await metricValue(server.metricsUrl, 'kgateway_admission_watch_errors_total')).toBe(0);
        const lists = await metricValue(server.metricsUrl, 'kgateway_admission_watch_lists_total', { reason: 'initial' });
        // ReferenceGrants, GatewayClasses, the parameters kind, labelled Namespaces, the referrer kinds.
        expect(lists).toBe(4 + (await servedReferrerKinds(cp.kubeConfig)).length);
        expect(server.logs()).not.toMatch(/forbidden/i);
      } finally {
        await server.stop();
      }
    });

    it("the API server dispatches the server's requests through the chart's FlowSchema and priority level", async () => {
      const dispatched = async () => {
        const res = await kubeRequest(cp.kubeConfig, 'GET', '/metrics');
        expect(res.status).toBe(200);
        const lines = String(res.text).split('\n').filter((l) => l.startsWith('apiserver_flowcontrol_dispatched_requests_total{') && l.includes(`flow_schema="${fullname}"`));
        for (const line of lines) expect(line).toContain(`priority_level="${fullname}"`);
        return lines.reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
      };
      const before = await dispatched();
      const res = await kubeRequest(saKc, 'GET', '/apis/gateway.networking.k8s.io/v1/namespaces/default/referencegrants');
      expect(res.status, res.text).toBe(200);
      expect(await dispatched()).toBeGreaterThan(before);
    });

    it.each(forbiddenRequests(namespace, release, fullname))('is forbidden to %s %s (%s)', async (method, path, _what, body) => {
      const res = await kubeRequest(saKc, method, path, requestOptions(method, body));
      expect(res.status, res.text).toBe(403);
    });

    it('self-managed certificates: two replicas race to one Secret, caBundle is set, a restart reuses the Secret, helm upgrade keeps caBundle', async () => {
      const secretPath = `/api/v1/namespaces/${namespace}/secrets/${secretName}`;
      expect((await kubeRequest(cp.kubeConfig, 'GET', secretPath)).status).toBe(404);
      const webhookPaths = Object.values(WEBHOOK_PLURALS).map((plural) => `/apis/admissionregistration.k8s.io/v1/${plural}/${fullname}`);
      for (const path of webhookPaths) {
        const res = await kubeRequest(cp.kubeConfig, 'GET', path);
        for (const webhook of res.body.webhooks) expect(webhook.clientConfig.caBundle).toBeUndefined();
      }

      const start = () => startSelfManaged({ kubeconfig, configFile, namespace, secretName, serviceName: fullname, webhookConfig: fullname, work, children });
      const [a, b] = await Promise.all([start(), start()]);
      expect([a, b].filter((s) => s.logs().includes('created the CA and serving certificate'))).toHaveLength(1);
      const secret = (await kubeRequest(cp.kubeConfig, 'GET', secretPath)).body;
      expect(secret.type).toBe('kubernetes.io/tls');
      const ca = Buffer.from(secret.data['ca.crt'], 'base64').toString();
      const cert = new X509Certificate(Buffer.from(secret.data['tls.crt'], 'base64'));
      expect(cert.checkHost(`${fullname}.${namespace}.svc`)).toBeDefined();
      expect(cert.checkIssued(new X509Certificate(ca))).toBe(true);
      for (const server of [a, b]) {
        const served = await pollUntil('the server to serve the Secret certificate', async () => {
          const got = await servedCertificate(server.port, ca, `${fullname}.${namespace}.svc`).catch(() => undefined);
          return got?.fingerprint256 === cert.fingerprint256 ? got : undefined;
        });
        expect(served.value.fingerprint256).toBe(cert.fingerprint256);
      }
      const caBundle = Buffer.from(ca).toString('base64');
      await pollUntil('caBundle in both webhook configurations', async () => {
        for (const path of webhookPaths) {
          const res = await kubeRequest(cp.kubeConfig, 'GET', path);
          if (!res.body.webhooks.every((w: { clientConfig: { caBundle?: string } }) => w.clientConfig.caBundle === caBundle)) return undefined;
        }
        return true;
      });

      // A restart (or a third replica) adopts the Secret as it is.
      const resourceVersion = secret.metadata.resourceVersion;
      await a.stop();
      const c = await start();
      expect((await servedCertificate(c.port, ca, `${fullname}.${namespace}.svc`)).fingerprint256).toBe(cert.fingerprint256);
      expect((await kubeRequest(cp.kubeConfig, 'GET', secretPath)).body.metadata.resourceVersion).toBe(resourceVersion);
      await Promise.all([b.stop(), c.stop()]);

      // helm upgrade renders caBundle from the Secret (lookup), so the webhooks never lose it.
      const upgrade = await runHelm(helm, ['upgrade', release, CHART_DIR, '--namespace', namespace, '--kubeconfig', cp.kubeconfigPath, '--set', 'webhooks.mutating.timeoutSeconds=7']);
      expect(upgrade.code, upgrade.stderr).toBe(0);
      for (const path of webhookPaths) {
        const res = await kubeRequest(cp.kubeConfig, 'GET', path);
        for (const webhook of res.body.webhooks) expect(webhook.clientConfig.caBundle).toBe(caBundle);
      }
      const mutating = await kubeRequest(cp.kubeConfig, 'GET', webhookPaths[0]!);
      expect(mutating.body.webhooks[0].timeoutSeconds).toBe(7);
      expect((await runHelm(helm, ['get', 'manifest', release, '--namespace', namespace, '--kubeconfig', cp.kubeconfigPath])).stdout).toContain(`caBundle: ${caBundle}`);
    });

    it("the ValidatingAdmissionPolicy lets the ServiceAccount change only caBundle of its own webhooks; without its binding RBAC alone let it change anything", async () => {
      const mutatingPath = `/apis/admissionregistration.k8s.io/v1/${WEBHOOK_PLURALS.MutatingWebhookConfiguration}/${fullname}`;
      const validatingPath = `/apis/admissionregistration.k8s.io/v1/${WEBHOOK_PLURALS.ValidatingWebhookConfiguration}/${fullname}`;
      const asServiceAccount = (path: string, ops: unknown[]) => kubeRequest(saKc, 'PATCH', path, { body: ops, contentType: 'application/json-patch+json' });
      const caBundle = Buffer.from(CA_PEM).toString('base64');
      const message = `${fullname} may change only clientConfig.caBundle of its webhooks`;
      const attempts: [string, string, unknown[]][] = [
        ['failurePolicy: Ignore', mutatingPath, [{ op: 'replace', path: '/webhooks/0/failurePolicy', value: 'Ignore' }]],
        ['rules emptied', validatingPath, [{ op: 'replace', path: '/webhooks/0/rules', value: [] }]],
        ['clientConfig.url elsewhere', validatingPath, [{ op: 'remove', path: '/webhooks/0/clientConfig/service' }, { op: 'add', path: '/webhooks/0/clientConfig/url', value: 'https://attacker.invalid/validate' }]],
        ['clientConfig.service renamed', mutatingPath, [{ op: 'replace', path: '/webhooks/0/clientConfig/service/name', value: 'attacker' }]],
        ['namespaceSelector widened to exclude everything', validatingPath, [{ op: 'replace', path: '/webhooks/0/namespaceSelector', value: { matchLabels: { never: 'true' } } }]],
        ['objectSelector added', validatingPath, [{ op: 'add', path: '/webhooks/0/objectSelector', value: { matchLabels: { never: 'true' } } }]],
        ['timeoutSeconds changed', mutatingPath, [{ op: 'replace', path: '/webhooks/0/timeoutSeconds', value: 1 }]],
        ['a webhook removed', validatingPath, [{ op: 'remove', path: '/webhooks/1' }]],
        ['a label added', mutatingPath, [{ op: 'add', path: '/metadata/labels/owned', value: 'yes' }]],
        // An owner that does not exist: the garbage collector would delete the configuration.
        ['an ownerReference added', mutatingPath, [{ op: 'add', path: '/metadata/ownerReferences', value: [{ apiVersion: 'v1', kind: 'Namespace', name: 'gone', uid: '00000000-0000-4000-8000-000000000000' }] }]],
        ['an ownerReference added', validatingPath, [{ op: 'add', path: '/metadata/ownerReferences', value: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'gone', uid: '00000000-0000-4000-8000-000000000001' }] }]],
        // A finalizer nobody removes: `helm uninstall` would leave the configuration Terminating.
        ['a finalizer added', validatingPath, [{ op: 'add', path: '/metadata/finalizers', value: ['example.com/hold'] }]],
        ['an annotation added', validatingPath, [{ op: 'add', path: '/metadata/annotations', value: { owned: 'yes' } }]],
      ];

      // The policy takes effect once the API server has loaded it. The probe is a dry run: a
      // change that went through before that would make every later probe no change at all.
      await pollUntil('the policy to deny a failurePolicy change', async () => ((await asServiceAccount(`${mutatingPath}?dryRun=All`, attempts[0]![2])).status === 200 ? undefined : true), 15_000, 200);
      for (const [what, path, ops] of attempts) {
        const res = await asServiceAccount(path, ops);
        expect(res.status, `${what}: ${res.text}`).toBe(403);
        expect(res.body.message, what).toContain(message);
      }
      // caBundle alone, on every webhook of both configurations: allowed.
      for (const path of [mutatingPath, validatingPath]) {
        const current = (await kubeRequest(cp.kubeConfig, 'GET', path)).body;
        const ops = current.webhooks.map((_: unknown, i: number) => ({ op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: caBundle }));
        const res = await asServiceAccount(path, ops);
        expect(res.status, res.text).toBe(200);
        for (const webhook of res.body.webhooks) expect(webhook.clientConfig.caBundle).toBe(caBundle);
      }
      // The caBundle patches left every other field and all of metadata as they were.
      for (const path of [mutatingPath, validatingPath]) {
        const { metadata } = (await kubeRequest(cp.kubeConfig, 'GET', path)).body;
        expect(metadata.ownerReferences, path).toBeUndefined();
        expect(metadata.finalizers, path).toBeUndefined();
        expect(metadata.labels?.owned, path).toBeUndefined();
      }
      // The cluster admin (helm) is not bound by it.
      const admin = await kubeRequest(cp.kubeConfig, 'PATCH', mutatingPath, { body: [{ op: 'replace', path: '/webhooks/0/timeoutSeconds', value: 6 }], contentType: 'application/json-patch+json' });
      expect(admin.status, admin.text).toBe(200);

      // Without the binding, the same token sets failurePolicy: Ignore: the hole RBAC leaves.
      const bindingPath = `/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/${fullname}-webhook-ca-only`;
      const binding = (await kubeRequest(cp.kubeConfig, 'GET', bindingPath)).body;
      expect((await kubeRequest(cp.kubeConfig, 'DELETE', bindingPath)).status).toBe(200);
      try {
        await pollUntil('RBAC alone to let the ServiceAccount set failurePolicy: Ignore', async () => ((await asServiceAccount(mutatingPath, attempts[0]![2])).status === 200 ? true : undefined), 15_000, 200);
        const got = await kubeRequest(cp.kubeConfig, 'GET', mutatingPath);
        expect(got.body.webhooks[0].failurePolicy).toBe('Ignore');
      } finally {
        const { metadata, ...rest } = binding;
        await kubeRequest(cp.kubeConfig, 'POST', '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings', { body: { ...rest, metadata: { name: metadata.name, labels: metadata.labels } } });
        await kubeRequest(cp.kubeConfig, 'PATCH', mutatingPath, { body: [{ op: 'replace', path: '/webhooks/0/failurePolicy', value: 'Fail' }], contentType: 'application/json-patch+json' });
      }
    });

    it('the ValidatingAdmissionPolicy lets the ServiceAccount create only its certificate Secret, of type kubernetes.io/tls; without its binding RBAC alone let it create any Secret', async () => {
      const secrets = `/api/v1/namespaces/${namespace}/secrets?dryRun=All`;
      const asServiceAccount = (body: unknown) => kubeRequest(saKc, 'POST', secrets, { body });
      const message = `${fullname} may create only the Secret ${secretName}, of type kubernetes.io/tls`;
      const attempts: [string, unknown][] = [
        ['an Opaque Secret', secretObject('planted', 'Opaque')],
        ["a token Secret for the namespace's default ServiceAccount", tokenSecret('stolen-token', 'default')],
        ['a token Secret under the certificate Secret name (the token would be readable with its get)', tokenSecret(secretName, 'default')],
        ['a forged Helm release record', { ...secretObject(`sh.helm.release.v1.${release}.v9`, 'helm.sh/release.v1'), metadata: { name: `sh.helm.release.v1.${release}.v9`, labels: { owner: 'helm', name: release } } }],
        ['a kubernetes.io/tls Secret under another name', secretObject('other-tls', 'kubernetes.io/tls')],
      ];
      await pollUntil('the policy to deny an Opaque Secret', async () => ((await asServiceAccount(attempts[0]![1])).status === 403 ? true : undefined), 15_000, 200);
      for (const [what, body] of attempts) {
        const res = await asServiceAccount(body);
        expect(res.status, `${what}: ${res.text}`).toBe(403);
        expect(res.body.message, what).toContain(message);
      }
      // Its own certificate Secret passes the policy (409 when an earlier test's servers created it).
      const own = await asServiceAccount(secretObject(secretName, 'kubernetes.io/tls'));
      expect([201, 409], own.text).toContain(own.status);

      // Without the binding, the same token creates an Opaque Secret: the hole RBAC leaves.
      const bindingPath = `/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/${fullname}-certificate-secret-only`;
      const binding = (await kubeRequest(cp.kubeConfig, 'GET', bindingPath)).body;
      expect((await kubeRequest(cp.kubeConfig, 'DELETE', bindingPath)).status).toBe(200);
      try {
        await pollUntil('RBAC alone to let the ServiceAccount create a token Secret', async () => ((await asServiceAccount(attempts[1]![1])).status === 201 ? true : undefined), 15_000, 200);
      } finally {
        const { metadata, ...rest } = binding;
        await kubeRequest(cp.kubeConfig, 'POST', '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings', { body: { ...rest, metadata: { name: metadata.name, labels: metadata.labels } } });
      }
    });
  });
});

function secretObject(name: string, type: string): Record<string, unknown> {
  // Each type's required keys, so the API server's validation passes and only the policy can refuse.
  const data = type === 'kubernetes.io/tls' ? { 'tls.crt': '', 'tls.key': '' } : { value: '' };
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name }, type, data };
}

/** A Secret the API server fills with a token of ServiceAccount `account`. */
function tokenSecret(name: string, account: string): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, annotations: { 'kubernetes.io/service-account.name': account } }, type: 'kubernetes.io/service-account-token' };
}

/** Requests the chart's ServiceAccount must be refused (RBAC and the chart's ValidatingAdmissionPolicies), for a release. */
function forbiddenRequests(namespace: string, release: string, fullname: string): [string, string, string, unknown?][] {
  const secretName = `${fullname}-tls`;
  return [
    ['POST', `/api/v1/namespaces/${namespace}/secrets?dryRun=All`, "create a token Secret for the namespace's default ServiceAccount", tokenSecret('stolen-token', 'default')],
    ['GET', '/api/v1/secrets', 'list Secrets cluster-wide'],
    ['GET', `/api/v1/namespaces/${namespace}/secrets`, 'list Secrets in its own namespace'],
    ['GET', `/api/v1/namespaces/${namespace}/secrets/sh.helm.release.v1.${release}.v1`, 'read another Secret'],
    ['GET', '/api/v1/pods', 'list Pods'],
    ['GET', '/api/v1/namespaces/default', 'get one Namespace (list/watch only)'],
    ['PATCH', '/api/v1/namespaces/default', 'label a Namespace'],
    ['GET', `/api/v1/namespaces/${namespace}/configmaps`, 'list ConfigMaps'],
    ['GET', '/apis/gateway.networking.k8s.io/v1/gateways', 'list Gateways (it only receives them)'],
    ['GET', '/apis/gateway.networking.k8s.io/v1beta1/namespaces/monitoring/referencegrants/x', 'get one ReferenceGrant (list/watch only)'],
    ['POST', '/apis/gateway.networking.k8s.io/v1beta1/namespaces/default/referencegrants', 'create a ReferenceGrant'],
    ['DELETE', `/apis/gateway.kgateway.dev/v1alpha1/namespaces/team-a/gatewayparameters/agentgateway-otel`, 'delete GatewayParameters'],
    ['PATCH', `/apis/admissionregistration.k8s.io/v1/${WEBHOOK_PLURALS.MutatingWebhookConfiguration}/sm-kgateway-admission`, "patch another release's webhooks"],
    ['GET', `/apis/admissionregistration.k8s.io/v1/${WEBHOOK_PLURALS.ValidatingWebhookConfiguration}`, 'list webhook configurations'],
    ['DELETE', `/api/v1/namespaces/${namespace}/secrets/${secretName}`, 'delete its own certificate Secret'],
  ];
}

/** The body of a forbidden request: its own, else an empty JSON patch or a ReferenceGrant. */
function requestOptions(method: string, body: unknown): { body?: unknown; contentType?: string } {
  if (body !== undefined) return { body };
  if (method === 'PATCH') return { body: [], contentType: 'application/json-patch+json' };
  if (method === 'POST') return { body: { apiVersion: 'gateway.networking.k8s.io/v1beta1', kind: 'ReferenceGrant', metadata: { name: 'x' }, spec: { from: [], to: [] } } };
  return {};
}

describeOnlyOn(target, ['kind'], 'the process target has no pods: the server under the chart token is the process case above')("the chart's pods under their ServiceAccount", () => {
  let cluster: E2eCluster;
  let server: WebhookUnderTest;
  let saKc: import('@kubernetes/client-node').KubeConfig;
  let work: string;
  const chart = () => cluster.chart!;

  beforeAll(async () => {
    cluster = await target.startCluster({ namespaces: ['kgateway', 'monitoring'] });
    server = await target.startWebhook(cluster, { profile: 'kgateway-v2.1' });
    work = await mkdtemp(join(tmpdir(), 'kga-chart-pods-'));
    const caPem = Buffer.from(cluster.kubeConfig.getCurrentCluster()!.caData!, 'base64').toString();
    const kubeconfig = await serviceAccountKubeconfig({ kubeConfig: cluster.kubeConfig, server: cluster.server, caPem } as ControlPlane, chart().namespace, chart().fullname, work);
    const { KubeConfig } = await import('@kubernetes/client-node');
    saKc = new KubeConfig();
    saKc.loadFromFile(kubeconfig);
  });

  afterAll(async () => {
    await server?.release();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('every pod got its first lists with its token and keeps its watches: no watch error, nothing forbidden in its log', async () => {
    expect(server.replicas).toBeGreaterThanOrEqual(2);
    expect(await server.metricPerReplica('kgateway_admission_watch_errors_total')).toEqual(Array(server.replicas).fill(0));
    // ReferenceGrants, GatewayClasses, the parameters kind, labelled Namespaces, the referrer kinds.
    const referrers = (await servedReferrerKinds(cluster.kubeConfig)).length;
    expect(await server.metricPerReplica('kgateway_admission_watch_lists_total', { reason: 'initial' })).toEqual(Array(server.replicas).fill(4 + referrers));
    for (const log of await server.logs()) {
      expect(log.length).toBeGreaterThan(0);
      expect(log).not.toMatch(/forbidden/i);
    }
  });

  it("the API server dispatches the pods' requests through the chart's FlowSchema and priority level", async () => {
    const dispatched = async () => {
      const res = await kubeRequest(cluster.kubeConfig, 'GET', '/metrics');
      expect(res.status).toBe(200);
      const lines = String(res.text).split('\n').filter((l) => l.startsWith('apiserver_flowcontrol_dispatched_requests_total{') && l.includes(`flow_schema="${chart().fullname}"`));
      for (const line of lines) expect(line).toContain(`priority_level="${chart().fullname}"`);
      return lines.reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    };
    const before = await dispatched();
    // A denial is confirmed by a live list of the grants, made by the pod with its token.
    const denied = await create(cluster.kubeConfig, PATHS.httpListenerPolicies('kgateway'), httpListenerPolicy({ name: 'dispatch-probe' }), { dryRun: true });
    expect(denied.status, denied.text).toBe(403);
    expect(await dispatched()).toBeGreaterThan(before);
  });

  // The release kindTarget.ts installs: kgateway-admission in kgateway-system.
  it.each(forbiddenRequests('kgateway-system', 'kgateway-admission', 'kgateway-admission'))('the token of the pods is forbidden to %s %s (%s)', async (method, path, _what, body) => {
    const res = await kubeRequest(saKc, method, path, requestOptions(method, body));
    expect(res.status, res.text).toBe(403);
  });

  it('self-managed certificates: one Secret, its CA is the caBundle of every webhook, and the API server trusts the pods with it', async () => {
    const secret = await kubeRequest(cluster.kubeConfig, 'GET', `/api/v1/namespaces/${chart().namespace}/secrets/${chart().fullname}-tls`);
    expect(secret.status, secret.text).toBe(200);
    const ca = Buffer.from(secret.body.data['ca.crt'], 'base64').toString();
    const cert = new X509Certificate(Buffer.from(secret.body.data['tls.crt'], 'base64'));
    expect(cert.checkHost(`${chart().fullname}.${chart().namespace}.svc`)).toBeDefined();
    expect(cert.checkIssued(new X509Certificate(ca))).toBe(true);
    for (const plural of Object.values(WEBHOOK_PLURALS)) {
      const config = await kubeRequest(cluster.kubeConfig, 'GET', `/apis/admissionregistration.k8s.io/v1/${plural}/${chart().fullname}`);
      for (const webhook of config.body.webhooks) expect(webhook.clientConfig.caBundle, plural).toBe(Buffer.from(ca).toString('base64'));
    }
    // Both replicas answer calls made through the Service with that caBundle.
    for (let i = 0; i < 4; i++) {
      const res = await create(cluster.kubeConfig, PATHS.httpListenerPolicies('kgateway'), httpListenerPolicy({ name: `trust-${i}` }), { dryRun: true });
      expect(res.status, res.text).toBe(403);
    }
  });
});

interface SelfManagedServer {
  port: number;
  logs(): string;
  stop(): Promise<void>;
}

/** `serve --self-managed-certs` as the chart runs it, on loopback ports; ready when /readyz answers with the Secret's CA. */
async function startSelfManaged(opts: {
  kubeconfig: string;
  configFile: string;
  namespace: string;
  secretName: string;
  serviceName: string;
  webhookConfig: string;
  work: string;
  children: ChildProcess[];
}): Promise<SelfManagedServer> {
  const dir = await mkdtemp(join(opts.work, 'replica-'));
  const [port, metricsPort, healthPort] = await freePorts(3);
  const logFile = join(dir, 'serve.log');
  const fd = openSync(logFile, 'a');
  const child = spawn(
    process.execPath,
    [
      join(REPO_ROOT, 'dist', 'cli', 'main.js'), 'serve', '--host', '127.0.0.1', '--port', String(port!), '--metrics-port', String(metricsPort!),
      '--health-port', String(healthPort!), '--config', opts.configFile, '--kubeconfig', opts.kubeconfig, '--profile', 'kgateway-v2.1',
      '--self-managed-certs', '--namespace', opts.namespace, '--secret-name', opts.secretName, '--service-name', opts.serviceName,
      '--webhook-config', opts.webhookConfig, '--certs-dir', join(dir, 'certs'),
    ],
    { stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  opts.children.push(child);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  };
  const logs = () => readFileSync(logFile, 'utf8');
  try {
    await pollUntil(
      'the self-managed server to be ready',
      async () => {
        if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}:\n${logs()}`);
        const ca = await readFile(join(dir, 'certs', 'ca.crt'), 'utf8').catch(() => undefined);
        if (!ca) return undefined;
        const status = await readyStatus(port!, ca, `${opts.serviceName}.${opts.namespace}.svc`).catch(() => 0);
        return status === 200 ? true : undefined;
      },
      30_000,
      100,
    );
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n${logs()}`);
  }
  return { port: port!, logs, stop };
}

function readyStatus(port: number, ca: string, servername: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/readyz', ca, servername, agent: false, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** The certificate a server presents for `servername`, verified against `ca` (host name included). */
function servedCertificate(port: number, ca: string, servername: string): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', ca, servername, agent: false, timeout: 2000 }, (res) => {
      const peer = (res.socket as import('node:tls').TLSSocket).getPeerX509Certificate();
      res.resume();
      if (!peer) reject(new Error('no peer certificate'));
      else resolve(peer);
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}
