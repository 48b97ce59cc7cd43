/**
 * The layers of src/ (docs/architecture.md). Imports run down, never up:
 *   cli/ -> server/ -> admission/ -> rules/
 * audit/ sits on rules/ beside admission/: admission/ applies the rules to one
 * request, audit/ to the objects a cluster already holds (for `audit` in cli/
 * and the policy reports in reports/).
 * Adapters beside them: kube/ (the Kubernetes API client: credentials,
 * requests, list+watch, events, the Lease), cluster/ (the cluster view),
 * certificates/, reports/, config/ (configuration loading). An adapter may
 * import rules/ (the vocabulary and the ClusterView interface it implements)
 * but never server/, admission/ or cli/. Among adapters: kube/ imports no
 * other; cluster/, certificates/ and reports/ may use kube/ (the view's
 * watches, the self-managed Secret, the reports and their Lease), and
 * certificates/ and reports/ nothing of cluster/ (the view reaches reports/
 * as rules/' ClusterView, given by cli/); copies/ (mutation.copyParameters)
 * uses kube/ (the API client, watches and the Lease); config/ only loads, so it imports no
 * other adapter; reports/ may use audit/, cluster/ and config/ may not.
 * server/ takes an engine and a certificate source as parameters (it imports
 * certificates/ for that interface and the loaded pair's type)
 * and config/serverSettings.ts (the type of its settings, declared once where
 * the config fills it in): building them from the config is wiring, and lives
 * in cli/ (cli/composition.ts), which also makes the process's one KubeApi and
 * hands it on. logging/ (the log line format, the one line per decision and
 * serve's loggers) is a leaf beside the layers: it imports nothing else of
 * src/, and server/ and cli/ use it.
 * Beside src/: harness/ (the test control plane) imports nothing of the
 * repository and src/ never imports it.
 * Run with `npm run lint:layers`; .ci/run fails on a violation.
 */
const ADAPTERS = '^src/(kube|cluster|certificates|reports|config|copies)/';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycles anywhere in src/.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'rules-import-only-rules',
      severity: 'error',
      comment: 'rules/ is pure decisions: it imports nothing else of src/.',
      from: { path: '^src/rules/' },
      to: { path: '^src/', pathNot: '^src/rules/' },
    },
    {
      name: 'rules-no-io',
      severity: 'error',
      comment:
        'rules/ has no I/O, clock or logger: of node: only the pure modules (crypto for a name digest, util for isDeepStrictEqual, path, url, buffer, assert).',
      from: { path: '^src/rules/' },
      to: { dependencyTypes: ['core'], pathNot: '^(node:)?(crypto|util|path|url|buffer|assert)$' },
    },
    {
      name: 'rules-no-io-libraries',
      severity: 'error',
      comment: 'rules/ neither logs, serves HTTP nor talks to the cluster.',
      from: { path: '^src/rules/' },
      to: { path: '(^|node_modules/)(pino|fastify|@fastify/[^/]+|@kubernetes/client-node|prom-client|selfsigned)(/|$)' },
    },
    {
      name: 'admission-imports-only-rules',
      severity: 'error',
      comment: 'admission/ (the AdmissionReview envelope) sits on rules/ only.',
      from: { path: '^src/admission/' },
      to: { path: '^src/', pathNot: '^src/(admission|rules)/' },
    },
    {
      name: 'audit-imports-only-rules',
      severity: 'error',
      comment: 'audit/ (the rules run over stored objects) sits on rules/ only, as admission/ does.',
      from: { path: '^src/audit/' },
      to: { path: '^src/', pathNot: '^src/(audit|rules)/' },
    },
    {
      name: 'server-takes-engine-and-sources',
      severity: 'error',
      comment:
        'server/ imports admission/, rules/, certificates/ (the CertificateSource it is given), logging/ and the type of its settings (config/serverSettings.ts) only; it takes the engine and sources as parameters (wiring is in cli/).',
      from: { path: '^src/server/' },
      to: { path: '^src/', pathNot: '^src/((server|admission|rules|certificates|logging)/|config/serverSettings\\.ts$)' },
    },
    {
      name: 'logging-imports-nothing',
      severity: 'error',
      comment: 'logging/ (the log line format, the decision line, serve\'s loggers) imports nothing else of src/: server/ and cli/ use it.',
      from: { path: '^src/logging/' },
      to: { path: '^src/', pathNot: '^src/logging/' },
    },
    {
      name: 'adapters-not-up',
      severity: 'error',
      comment: 'Adapters implement rules/ vocabulary; they never import server/, admission/ or cli/.',
      from: { path: ADAPTERS },
      to: { path: '^src/(server|admission|cli)/' },
    },
    {
      name: 'config-imports-no-adapter',
      severity: 'error',
      comment: 'config/ loads configuration; what a setting means for the cluster view is decided beside the view.',
      from: { path: '^src/config/' },
      to: { path: '^src/(kube|cluster|certificates|reports|audit)/' },
    },
    {
      name: 'kube-imports-only-rules',
      severity: 'error',
      comment: 'kube/ is the Kubernetes API client: of src/ it uses rules/ only (object and event vocabulary, the profile a cluster calls for).',
      from: { path: '^src/kube/' },
      to: { path: '^src/', pathNot: '^src/(kube|rules)/' },
    },
    {
      name: 'cluster-adapter-imports',
      severity: 'error',
      comment: 'cluster/ may use rules/ and kube/ (its watches), not certificates/, reports/, config/ or audit/ (they build on it).',
      from: { path: '^src/cluster/' },
      to: { path: '^src/(certificates|reports|config|audit)/' },
    },
    {
      name: 'certificates-imports',
      severity: 'error',
      comment: 'certificates/ generates, loads and self-manages TLS material; of src/ it uses only kube/ (the API client, for the self-managed Secret).',
      from: { path: '^src/certificates/' },
      to: { path: '^src/', pathNot: '^src/(certificates|kube)/' },
    },
    {
      name: 'reports-adapter-imports',
      severity: 'error',
      comment: 'reports/ may use kube/ (the API client and Lease), audit/ (the findings it reports) and rules/, not cluster/, config/ or certificates/.',
      from: { path: '^src/reports/' },
      to: { path: '^src/(cluster|config|certificates)/' },
    },
    {
      name: 'copies-adapter-imports',
      severity: 'error',
      comment: 'copies/ (the parameter copier) may use kube/ (the API client, watches and the Lease elector) and rules/ only.',
      from: { path: '^src/copies/' },
      to: { path: '^src/(cluster|config|certificates|audit|reports)/' },
    },
    {
      name: 'src-not-harness',
      severity: 'error',
      comment: 'harness/ (the test control plane) is development tooling; the product never imports it.',
      from: { path: '^src/' },
      to: { path: '^harness/' },
    },
    {
      name: 'harness-stands-alone',
      severity: 'error',
      comment:
        'harness/ is imported by tests, scripts and the bench, and imports none of them nor src/ (it runs our server as a process, dist/cli/main.js).',
      from: { path: '^harness/' },
      to: { path: '^(src|test|bench|scripts)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
