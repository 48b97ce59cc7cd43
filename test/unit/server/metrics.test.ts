import { describe, expect, it } from 'vitest';
import { AdmissionMetrics } from '../../../src/server/metrics.js';

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
