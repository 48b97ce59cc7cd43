// Test control plane (real etcd + kube-apiserver on loopback, CRDs installed) and
// helpers to run / register the webhook. The implementation is plain ESM in
// controlPlane.mjs (shared with scripts/cluster.mjs); this module gives it types.
//
//   const skip = await requireControlPlane();
//   describe.skipIf(skip)('...', () => {
//     let cp: ControlPlane;
//     beforeAll(async () => { cp = await startControlPlane(); }, 300_000);
//     afterAll(() => cp?.stop());
//   });
export * from './controlPlane.mjs';
