// The product's CLI with prototype patches applied to the built code first
// (`npm run bench -- --experiments`), to measure a change to src/ before it is
// made. KGA_PATCH is a comma-separated list:
//   lazy   ReferenceGrantIndex rebuilds a namespace's lookup on the first
//          question about it after a change, not on every upsert (today each
//          upsert rebuilds its whole namespace: quadratic during a list)
import { ReferenceGrantIndex } from '../../dist/cluster/referenceGrantIndex.js';

const patches = new Set((process.env.KGA_PATCH ?? '').split(',').filter(Boolean));
if (patches.has('lazy')) {
  const proto = ReferenceGrantIndex.prototype;
  const rebuild = proto.rebuild;
  const isGranted = proto.isGranted;
  proto.rebuild = function (namespace) {
    this.lookups.delete(namespace);
    (this.dirty ??= new Set()).add(namespace);
  };
  proto.isGranted = function (from, to) {
    if (this.dirty?.delete(to.namespace)) rebuild.call(this, to.namespace);
    return isGranted.call(this, from, to);
  };
}
await import('../../dist/cli/main.js');
