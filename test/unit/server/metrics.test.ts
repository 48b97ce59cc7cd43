import fc from 'fast-check';
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { AdmissionMetrics } from '../../../src/server/metrics.js';
import { RequestMetrics } from '../../../src/server/requestMetrics.js';

async function series(metrics: AdmissionMetrics): Promise<{ kind: string; operation: string }[]> {
  const counter = (await metrics.requests.get()).values;
  return counter.map((v) => ({ kind: String(v.labels.kind), operation: String(v.labels.operation) }));
}

describe('AdmissionMetrics', () => {
  it('keeps the kinds and operations of real requests as labels', async () => {
    const metrics = new AdmissionMetrics({ defaultMetrics: false, kinds: ['HTTPListenerPolicy', 'Gateway'] });
    metrics.observe({ endpoint: 'validate', kind: 'HTTPListenerPolicy', operation: 'CREATE', decision: 'allowed' }, 0.001);
    metrics.observe({ endpoint: 'mutate', kind: 'Gateway', operation: 'UPDATE', decision: 'patched' }, 0.001);
    metrics.observe({ endpoint: 'validate', kind: 'unknown', operation: 'unknown', decision: 'invalid' }, 0);
    expect(await series(metrics)).toEqual([
      { kind: 'HTTPListenerPolicy', operation: 'CREATE' },
      { kind: 'Gateway', operation: 'UPDATE' },
      { kind: 'unknown', operation: 'unknown' },
    ]);
  });

  it('cannot be made to mint a series per request, nor to push a configured kind into "other" with junk kinds sent first', async () => {
    const metrics = new AdmissionMetrics({ defaultMetrics: false, kinds: ['HTTPListenerPolicy', 'Gateway'] });
    for (let i = 0; i < 1000; i++) {
      metrics.observe({ endpoint: 'validate', kind: `Kind${i}`, operation: `OP${i}`, decision: 'allowed' }, 0.001);
    }
    metrics.observe({ endpoint: 'validate', kind: 'has spaces{and="quotes"}', operation: 'CREATE', decision: 'allowed' }, 0.001);
    metrics.observe({ endpoint: 'validate', kind: 'HTTPListenerPolicy', operation: 'CREATE', decision: 'denied' }, 0.001);
    const all = await series(metrics);
    expect(new Set(all.map((s) => s.operation))).toEqual(new Set(['other', 'CREATE']));
    expect(new Set(all.map((s) => s.kind))).toEqual(new Set(['other', 'HTTPListenerPolicy']));
  });
});

describe('RequestMetrics', () => {
  const BOUNDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5, 5, 10, 30];
  const NAMES = { requests: 'r_total', requestsHelp: 'R.', duration: 'd_seconds', durationHelp: 'D.' };
  const labelValue = fc.constantFrom('a', 'b', 'with "quotes"\\ and\nnewline');
  const observation = fc.record({
    labels: fc.record({ endpoint: labelValue, kind: labelValue, operation: labelValue, decision: labelValue }),
    seconds: fc.oneof(fc.constantFrom(0, ...BOUNDS), fc.double({ min: 0, max: 100, noNaN: true })),
  });

  it("exposes what prom-client's Counter and Histogram expose for the same observations, line for line", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(observation, { maxLength: 60 }), async (observations) => {
        const ours = new Registry();
        const metrics = new RequestMetrics(ours, NAMES, BOUNDS);
        const reference = new Registry();
        const labelNames = ['endpoint', 'kind', 'operation', 'decision'];
        const counter = new Counter({ name: NAMES.requests, help: NAMES.requestsHelp, labelNames, registers: [reference] });
        const histogram = new Histogram({ name: NAMES.duration, help: NAMES.durationHelp, labelNames, buckets: BOUNDS, registers: [reference] });
        for (const { labels, seconds } of observations) {
          metrics.observe(metrics.seriesOf(labels.endpoint, labels.kind, labels.operation, labels.decision), seconds);
          counter.inc(labels);
          histogram.observe(labels, seconds);
        }
        expect(await ours.metrics()).toBe(await reference.metrics());
        expect(await metrics.requests.get()).toEqual(await counter.get());
        // prom-client's values also carry an empty exemplar (null or undefined).
        const withoutExemplars = (m: { values: object[] }) => ({ ...m, values: m.values.map(({ exemplar: _, ...v }: { exemplar?: unknown }) => v) });
        expect(withoutExemplars(await metrics.duration.get())).toEqual(withoutExemplars(await histogram.get()));
      }),
      { numRuns: 200 },
    );
  });
});
