import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { podNamespace } from '../../../src/kube/podNamespace.js';

describe('podNamespace: the one lookup of the namespace this pod runs in', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'kga-podns-')), 'namespace');
  writeFileSync(file, 'from-file\n');

  it('$POD_NAMESPACE first, then the service account file, else undefined', () => {
    expect(podNamespace({ POD_NAMESPACE: 'from-env' }, file)).toBe('from-env');
    expect(podNamespace({}, file)).toBe('from-file');
    expect(podNamespace({}, join(file, 'missing'))).toBeUndefined();
    expect(podNamespace({ POD_NAMESPACE: '' }, join(file, 'missing'))).toBeUndefined();
  });
});
