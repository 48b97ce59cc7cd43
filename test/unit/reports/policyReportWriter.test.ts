// The reports' debounce has a longest wait (issue 21 item 6): a tenant who
// touches an object every second must not hold every Report back.
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseConfig, ruleSettings } from '../../../src/config/config.js';
import { InMemoryClusterView } from '../../../src/cluster/inMemoryClusterView.js';
import type { KubeApi } from '../../../src/kube/kubeApi.js';
import { PolicyReportWriter } from '../../../src/reports/policyReportWriter.js';
import { buildRuleSet } from '../../../src/rules/ruleSet.js';

afterEach(() => {
  vi.useRealTimers();
});

function writer(scans: number[]): PolicyReportWriter {
  const settings = ruleSettings(parseConfig({}));
  const api = { listPages: async () => '', request: async () => ({ status: 200, body: {}, text: '' }) } as unknown as KubeApi;
  return new PolicyReportWriter({
    api,
    logger: pino({ level: 'silent' }),
    ruleSet: buildRuleSet(settings),
    settings,
    view: new InMemoryClusterView(),
    objects: () => [],
    isLeader: () => true,
    onScan: () => scans.push(Date.now()),
  });
}

describe('PolicyReportWriter: when a scan runs', () => {
  it('a change every second for 30 s still gets scans, each at most 10 s after the first change it folds in', async () => {
    vi.useFakeTimers({ now: 0 });
    const scans: number[] = [];
    const reports = writer(scans);
    for (let second = 0; second < 30; second++) {
      reports.changed();
      await vi.advanceTimersByTimeAsync(1_000);
    }
    expect(scans).toEqual([10_000, 20_000, 30_000]);
    reports.stop();
  });

  it('changes that settle are folded into one scan 2 s after the last', async () => {
    vi.useFakeTimers({ now: 0 });
    const scans: number[] = [];
    const reports = writer(scans);
    reports.changed();
    await vi.advanceTimersByTimeAsync(500);
    reports.changed();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(scans).toEqual([2_500]);
    reports.stop();
  });
});
