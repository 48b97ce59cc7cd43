// Issue 21 item 1: one review whose refs name 16,384 distinct ungranted
// namespaces took 4.6 s in the engine (the note about namespaces not read
// again copied a list per namespace), freezing the pod for every other
// request. The issue asks for bounds here: answered in < 500 ms by the engine,
// and a small review sent meanwhile answered within 1.5 s. Both are several
// times what the code takes (about 75 ms on an idle core), so a loaded 2-core
// machine still meets them (the engine's bound on the fastest of three
// rounds); the figure itself is the bench's (`worstcase`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdmissionEngine } from '../../../src/admission/admissionEngine.js';
import type { ClusterSource } from '../../../src/cluster/clusterSource.js';
import { GrantRereads } from '../../../src/cluster/grantRereads.js';
import { InMemoryClusterView, viewOptionsFor } from '../../../src/cluster/inMemoryClusterView.js';
import { parseConfig, ruleSettings } from '../../../src/config/config.js';
import type { ClusterView } from '../../../src/rules/clusterView.js';
import { buildRuleSet } from '../../../src/rules/ruleSet.js';
import { admissionRequest, admissionReview, backendRef, httpListenerPolicy } from '../../support/builders.js';
import { startInProcessWebhook, type InProcessWebhook } from '../../support/webhookInProcess.js';
import { post } from './support.js';

const WIDE = 16_384;
const settings = ruleSettings(parseConfig({}));

/** A policy whose refs each name another namespace, none of them granted. */
function wideReview(refs: number): Record<string, unknown> {
  const policy = httpListenerPolicy({ name: 'wide', namespace: 'tenant', otelAccessLogRefs: Array.from({ length: refs }, (_, i) => backendRef({ namespace: `ns-${i}` })) });
  return admissionReview(admissionRequest(policy));
}

/**
 * A cluster source like the live one: the watch-fed view, and the re-reads of
 * grants before a denial (limits and all), with the API server's LIST of a
 * namespace's grants answered by `list`.
 */
function sourceWithRereads(list: (namespace: string) => Promise<{ name: string; spec: unknown }[]>): ClusterSource & { view: InMemoryClusterView } {
  const view = new InMemoryClusterView(viewOptionsFor(settings));
  const rereads = new GrantRereads(list);
  return {
    view,
    notReadyReason: () => undefined,
    start: async () => {},
    stop: async () => {},
    reconsider: <T,>(namespaces: readonly string[], decide: (view: ClusterView) => T, decided: T) => rereads.reconsider(view, namespaces, decide, decided),
  };
}

describe('a review naming 16,384 ungranted namespaces', () => {
  it('is denied by the engine in < 500 ms, its message naming a few namespaces and counting the rest', async () => {
    const source = sourceWithRereads(async () => []);
    const engine = new AdmissionEngine({ ruleSet: buildRuleSet(settings), view: source.view, reconsider: source.reconsider! });
    // Warm up the code paths on a smaller one first: the bound is about the work, not the JIT.
    await engine.review('validate', wideReview(1_024));
    const review = wideReview(WIDE);
    // The fastest of three rounds: a busy machine can pause any one of them
    // (the old code took 4.6 s every round).
    const rounds: number[] = [];
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      const outcome = await engine.review('validate', review);
      rounds.push(performance.now() - started);
      expect(outcome.decision).toBe('denied');
      const message = outcome.body.response.status!.message;
      expect(message).toContain(`ns-8, ns-9, ns-10, ns-11, ns-12, ns-13, ns-14, ns-15, ns-16, ns-17 and ${WIDE - 18} more (at most 8 namespaces are re-read per request)`);
      if (rounds.at(-1)! < 500) break;
    }
    process.stderr.write(`[hardening] a review naming ${WIDE} ungranted namespaces: ${rounds.map((ms) => ms.toFixed(0)).join(', ')} ms\n`);
    expect(Math.min(...rounds)).toBeLessThan(500);
  });

  describe('through the HTTPS server', () => {
    let webhook: InProcessWebhook;
    let onFirstList: (() => void) | undefined;
    beforeAll(async () => {
      webhook = await startInProcessWebhook({
        source: sourceWithRereads(async () => {
          // The first LIST comes from the wide review, between its two halves
          // (the decision on the cached view, then the answer): the moment to
          // send another request, which must not wait for the wide one.
          const hook = onFirstList;
          onFirstList = undefined;
          hook?.();
          return [];
        }),
      });
    });
    afterAll(async () => webhook?.server.close());

    it('answers a small review sent during it within 1.5 s', async () => {
      const url = `${webhook.server.url}/validate`;
      let small: Promise<{ status: number; text: string; ms: number }> | undefined;
      onFirstList = () => {
        const sentAt = performance.now();
        small = post(url, JSON.stringify(admissionReview(admissionRequest(httpListenerPolicy()))), { ca: webhook.ca }).then((answer) => ({ ...answer, ms: performance.now() - sentAt }));
      };
      const wide = await post(url, JSON.stringify(wideReview(WIDE)), { ca: webhook.ca, timeoutMs: 60_000 });
      expect(wide.status).toBe(200);
      expect(JSON.parse(wide.text).response.allowed).toBe(false);
      expect(small).toBeDefined();
      const answer = await small!;
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.text).response.status.message).toContain('Service monitoring/otel-collector-collector');
      expect(answer.ms).toBeLessThan(1_500);
    });
  });
});
