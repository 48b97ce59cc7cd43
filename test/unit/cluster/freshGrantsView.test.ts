import { describe, expect, it } from 'vitest';
import { freshGrantsView } from '../../../src/cluster/freshGrantsView.js';
import { recordingUngranted } from '../../../src/rules/clusterView.js';
import { InMemoryClusterView } from '../../../src/cluster/inMemoryClusterView.js';
import { parseConfig, ruleSettings } from '../../../src/config/config.js';
import { buildRuleSet, decide } from '../../../src/rules/ruleSet.js';
import { admissionRequest, backendRef, httpListenerPolicy, referenceGrant } from '../../support/builders.js';

const rules = buildRuleSet(ruleSettings(parseConfig({}))).validating;
const from = { group: 'gateway.kgateway.dev', kind: 'HTTPListenerPolicy', namespace: 'kgateway' };
const collector = { group: '', kind: 'Service', namespace: 'monitoring', name: 'otel-collector-collector' };

describe('freshGrantsView', () => {
  it('answers for the re-read namespaces from the scratch copy alone, and never changes the view under it', () => {
    const base = InMemoryClusterView.fromObjects([referenceGrant()]);
    // The API server no longer holds the grant the watch-fed view still has.
    const fresh = freshGrantsView(base, new Map([['monitoring', []]]));
    expect(fresh.isReferenceGranted(from, collector)).toBe(false);
    expect(fresh.referenceGrantsIn('monitoring').size).toBe(0);
    expect(base.isReferenceGranted(from, collector)).toBe(true);
    const added = freshGrantsView(InMemoryClusterView.fromObjects([]), new Map([['monitoring', [{ name: 'g', spec: referenceGrant().spec }]]]));
    expect(added.isReferenceGranted(from, collector)).toBe(true);
    expect(added.isReferenceGranted(from, { ...collector, namespace: 'tracing' })).toBe(false);
  });

  it('recordingUngranted names the namespaces a denial rests on, in the order asked, and none for a granted ref', () => {
    const policy = httpListenerPolicy({ otelAccessLogRefs: [backendRef(), backendRef({ namespace: 'tracing' }), backendRef({ namespace: 'kgateway' })] });
    const ungrantedIn = (view: InMemoryClusterView) => {
      const recording = recordingUngranted(view);
      decide(rules, admissionRequest(policy), recording.view);
      return [...recording.namespaces];
    };
    expect(ungrantedIn(InMemoryClusterView.fromObjects([referenceGrant()]))).toEqual(['tracing']);
    expect(ungrantedIn(InMemoryClusterView.fromObjects([]))).toEqual(['monitoring', 'tracing']);
  });
});
