import { describe, expect, it } from 'vitest';
import { apiPath, collectionPath } from '../../../src/kube/kubeApi.js';

const grants = { group: 'gateway.networking.k8s.io', plural: 'referencegrants' };

describe('API paths', () => {
  it('encodes every segment, so one taken from a request can add no segment and no query (issue 17 item 4)', () => {
    expect(collectionPath(grants, 'v1', 'x1/../../gatewayclasses?')).toBe('/apis/gateway.networking.k8s.io/v1/namespaces/x1%2F..%2F..%2Fgatewayclasses%3F/referencegrants');
    expect(collectionPath(grants, 'v1', 'monitoring')).toBe('/apis/gateway.networking.k8s.io/v1/namespaces/monitoring/referencegrants');
    expect(collectionPath({ group: '', plural: 'services' }, 'v1')).toBe('/api/v1/services');
    expect(apiPath('apis', 'a#b', 'v1')).toBe('/apis/a%23b/v1');
  });
});
