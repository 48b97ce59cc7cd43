// The control-plane harness: a real etcd + kube-apiserver on loopback with the
// Gateway API / kgateway CRDs installed (like controller-runtime's envtest), and
// our webhook server started and registered against it. Used by the e2e tests,
// scripts/cluster.ts, scripts/kind.sh and the bench.
//
//   const skip = await requireControlPlane();
//   describe.skipIf(skip)('...', () => {
//     let cp: ControlPlane;
//     beforeAll(async () => { cp = await startControlPlane(); }, 300_000);
//     afterAll(() => cp?.stop());
//   });
//
// Written in erasable TypeScript with `.ts` imports so that Node 24 runs it
// as it is (`node scripts/cluster.ts`, `import('./harness/index.ts')` from .mjs).
export { REPO_ROOT } from './repoRoot.ts';
export {
  BUILD_HINT,
  CONTROL_PLANE_SCRIPT,
  controlPlanePaths,
  ensureControlPlaneBinaries,
  requireControlPlane,
  type ControlPlanePaths,
  type CrdDirs,
  type EnsureBinariesResult,
} from './binaries.ts';
export { generateCa, generateServingCert, type KeyPairPem, type ServingCert } from './certificates.ts';
export { buildKubeconfig } from './kubeconfig.ts';
export { freePorts } from './ports.ts';
export { applyClusterObject, kubeRequest, parseWarningHeaders, type KubeResponse } from './kubeApi.ts';
export { installCrds, loadCrdManifests, waitForCrdsEstablished, waitForCrdsServing, type InstalledCrds } from './crds.ts';
export { startControlPlane, type ControlPlane, type StartControlPlaneOptions } from './controlPlane.ts';
export { killKubeApiserver, startKubeApiserver, type ExtraKubeApiserver } from './apiServerRestarts.ts';
export { startWebhookServer, type StartWebhookServerOptions, type WebhookServer } from './webhookServer.ts';
export { DEFAULT_WEBHOOK_NAME, registerWebhooks, unregisterWebhooks, type MatchCondition, type RegisterWebhooksOptions } from './webhookRegistration.ts';
export { killPid, pidAlive } from './processes.ts';
export { waitForWebhooksReached } from './webhooksReached.ts';
