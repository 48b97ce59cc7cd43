// The watch-backed cluster view, in process, against a real kube-apiserver.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeApi } from '../../src/kube/kubeApi.js';
import { AdmissionEngine, type ConfirmationOutcome } from '../../src/admission/admissionEngine.js';
import { LiveClusterSource } from '../../src/cluster/liveClusterSource.js';
import { parseConfig, ruleSettings } from '../../src/config/config.js';
import { buildRuleSet } from '../../src/rules/ruleSet.js';
import { admissionRequest, admissionReview, httpListenerPolicy, referenceGrant } from '../support/builders.js';
import { kubeRequest, requireControlPlane, startControlPlane, type ControlPlane } from '../../harness/index.ts';
import { create, ensureNamespaces, PATHS, pollUntil, viewSettings } from './support.js';

const skip = await requireControlPlane();
const from = { group: 'gateway.kgateway.dev', kind: 'HTTPListenerPolicy', namespace: 'kgateway' };
const to = (name: string) => ({ group: '', kind: 'Service', namespace: 'monitoring', name });

describe.skipIf(skip)('LiveClusterSource against a real kube-apiserver', () => {
  let cp: ControlPlane;
  const sources: LiveClusterSource[] = [];
  const newSource = () => {
    const source = new LiveClusterSource({
      api: new KubeApi(cp.kubeConfig),
      logger: pino({ level: 'silent' }),
      settings: viewSettings(),
    });
    sources.push(source);
    return source;
  };

  beforeAll(async () => {
    cp = await startControlPlane();
    await ensureNamespaces(cp.kubeConfig, 'kgateway', 'monitoring');
  });
  afterAll(async () => {
    await Promise.all(sources.map((s) => s.stop()));
    await cp?.stop();
  });

  it('is not ready until the first lists have synced, then holds what the cluster holds', async () => {
    await create(cp.kubeConfig, PATHS.referenceGrants('monitoring'), referenceGrant({ name: 'pre-existing', to: [{ name: 'pre' }] }));
    const source = newSource();
    expect(source.notReadyReason()).toMatch(/discovering/);
    await source.start();
    const { ms } = await pollUntil('the first lists', async () => (source.notReadyReason() === undefined ? true : undefined));
    process.stderr.write(`[e2e] live view synced in ${ms.toFixed(0)} ms\n`);
    expect(source.view.isReferenceGranted(from, to('pre'))).toBe(true);
  });

  it('follows creations, updates and deletions through the watch (v1beta1 writes, served as v1)', async () => {
    const source = newSource();
    await source.start();
    await pollUntil('sync', async () => (source.notReadyReason() === undefined ? true : undefined));
    const path = PATHS.referenceGrants('monitoring', 'v1');
    await create(cp.kubeConfig, PATHS.referenceGrants('monitoring'), referenceGrant({ name: 'followed', to: [{ name: 'a' }] }));
    const added = await pollUntil('the creation', async () => (source.view.isReferenceGranted(from, to('a')) ? true : undefined));
    const patched = await kubeRequest(cp.kubeConfig, 'PATCH', `${path}/followed`, {
      body: { spec: { to: [{ group: '', kind: 'Service', name: 'b' }] } },
      contentType: 'application/merge-patch+json',
    });
    expect(patched.status, patched.text).toBe(200);
    const updated = await pollUntil('the update', async () => (source.view.isReferenceGranted(from, to('b')) && !source.view.isReferenceGranted(from, to('a')) ? true : undefined));
    expect((await kubeRequest(cp.kubeConfig, 'DELETE', `${path}/followed`)).status).toBe(200);
    const removed = await pollUntil('the deletion', async () => (!source.view.isReferenceGranted(from, to('b')) ? true : undefined));
    process.stderr.write(`[e2e] watch lag: create ${added.ms.toFixed(0)} ms, update ${updated.ms.toFixed(0)} ms, delete ${removed.ms.toFixed(0)} ms\n`);
  });

  it('resumes each watch the API server ends from the last resourceVersion, without re-listing', async () => {
    const lists: string[] = [];
    const source = new LiveClusterSource({
      api: new KubeApi(cp.kubeConfig),
      logger: pino({ level: 'silent' }),
      settings: viewSettings(),
      // The API server ends every watch after 1 s, so several are resumed during the test.
      watchTimeoutSeconds: { min: 1, spread: 0 },
      onList: (resource, reason) => lists.push(`${resource} ${reason}`),
    });
    sources.push(source);
    await source.start();
    await pollUntil('sync', async () => (source.notReadyReason() === undefined ? true : undefined));
    const initialLists = lists.length;
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    await create(cp.kubeConfig, PATHS.referenceGrants('monitoring'), referenceGrant({ name: 'after-resume', to: [{ name: 'after-resume' }] }));
    await pollUntil('the grant through a resumed watch', async () => (source.view.isReferenceGranted(from, to('after-resume')) ? true : undefined));
    expect((await kubeRequest(cp.kubeConfig, 'DELETE', `${PATHS.referenceGrants('monitoring', 'v1')}/after-resume`)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await pollUntil('the deletion through a resumed watch', async () => (!source.view.isReferenceGranted(from, to('after-resume')) ? true : undefined));
    expect(lists.length).toBe(initialLists);
    expect(lists.every((l) => l.endsWith(' initial'))).toBe(true);
  });

  it('re-reads grants from the API server before denying, so a grant the watch has not delivered yet still counts', async () => {
    const source = newSource();
    await source.start();
    await pollUntil('sync', async () => (source.notReadyReason() === undefined ? true : undefined));
    // Freeze the view: from here on only the live re-read can see new grants.
    await source.stop();
    await create(cp.kubeConfig, PATHS.referenceGrants('monitoring'), referenceGrant({ name: 'unseen', to: [{ name: 'unseen' }] }));
    expect(source.view.isReferenceGranted(from, to('unseen'))).toBe(false);
    const outcomes: ConfirmationOutcome[] = [];
    const engine = new AdmissionEngine({
      ruleSet: buildRuleSet(ruleSettings(parseConfig({}))),
      view: source.view,
      reconsider: source.reconsider.bind(source),
      onConfirmation: (o) => outcomes.push(o),
    });
    const policy = httpListenerPolicy({ otelAccessLogRefs: [{ name: 'unseen', namespace: 'monitoring', port: 4317 }] });
    const outcome = await engine.review('validate', admissionReview(admissionRequest(policy)));
    expect(outcome.decision).toBe('allowed');
    expect(outcomes).toEqual(['overturned']);
    const stillDenied = await engine.review('validate', admissionReview(admissionRequest(httpListenerPolicy({ otelAccessLogRefs: [{ name: 'nobody', namespace: 'monitoring', port: 4317 }] }))));
    expect(stillDenied.decision).toBe('denied');
    expect(outcomes).toEqual(['overturned', 'confirmed']);
  });
});
