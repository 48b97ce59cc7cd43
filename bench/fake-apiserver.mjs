// Runs the stand-in API server of the scale test (lib/fakeApiServer.mjs) in a
// process of its own:
//   node bench/fake-apiserver.mjs --grants N --namespaces 1000 --kubeconfig FILE
// Writes the kubeconfig, prints "ready", serves until SIGTERM.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadManifests } from '../dist/cluster/manifests.js';
import { startFakeApiServer } from './lib/fakeApiServer.mjs';
import { REPO_ROOT } from './lib/util.mjs';

const { values } = parseArgs({ options: { grants: { type: 'string' }, namespaces: { type: 'string', default: '1000' }, kubeconfig: { type: 'string' } } });
const examples = (await loadManifests([path.join(REPO_ROOT, 'examples')])).map((m) => m.object);
const grants = Number(values.grants);
const api = await startFakeApiServer({ grants, namespaces: Math.min(Number(values.namespaces), grants), examples });
api.kubeconfig(values.kubeconfig);
process.stdout.write(`ready ${api.url}\n`);
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => void api.close().finally(() => process.exit(0)));
