// Every release of the matrix (harness/releaseMatrix.ts) the module proxy
// serves, in turn: a fresh API server with Gateway API and only that release's
// CRDs, our server started without --profile (it picks the release's profile
// from the CRDs), then, through the API server, one schema-valid object per
// reference site (harness/siteSamples.ts) that refers into another namespace:
// denied with a suggested ReferenceGrant where the controller needs one in its
// default mode, admitted once that grant is applied; and the Gateway cases of
// the release's profile. Process target only (each release needs its own CRDs).
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, parseAllDocuments } from 'yaml';

import { REPO_ROOT, installCrds, registerWebhooks, startControlPlane, startWebhookServer, type ControlPlane, type WebhookServer } from '../../harness/index.ts';
import { controlPlanePaths, requireControlPlane, type CrdDirs } from '../../harness/binaries.ts';
import { readCrds, type Crd } from '../../harness/referenceSiteScan.ts';
import { crdDirsIn, moduleDir, SERVED_RELEASES, type Release } from '../../harness/releaseMatrix.ts';
import { sampleObject, specHints } from '../../harness/siteSamples.ts';
import { REFERENCE_SITES } from '../../src/rules/generated/referenceSites.js';
import { DEFAULT_GRANT_MODES, grantRequirement } from '../../src/rules/grantModes.js';
import { PROFILES, type ProfileName } from '../../src/rules/profiles.js';
import { create, ensureNamespaces, PATHS, pollUntil } from './support.js';

const skip = await requireControlPlane();
const TEAM = 'team';
const OTHER = 'shared';
const EXAMPLES = join(REPO_ROOT, 'examples', 'agentgateway-v1.4');
/** The release examples/agentgateway-v1.4 is written for. */
const EXAMPLE_RELEASE = 'agentgateway-v1.4.1';

/** The ReferenceGrant the denial message shows as YAML after "Create this ReferenceGrant in namespace …:". */
function suggestedGrant(message: string): Record<string, any> {
  const at = message.indexOf('to allow it:\n');
  expect(at, message).toBeGreaterThan(0);
  return parseYaml(message.slice(at + 'to allow it:\n'.length)) as Record<string, any>;
}

describe.skipIf(skip).each(SERVED_RELEASES.map((r) => [r.id, r] as const))('release %s through a real kube-apiserver', (_id, release: Release) => {
  let cp: ControlPlane;
  let server: WebhookServer;
  let crds: Crd[];
  const sites = REFERENCE_SITES.filter((s) => s.releases.includes(release.id) && s.control !== 'none');

  beforeAll(async () => {
    cp = await startControlPlane({ installCrds: false });
    const dirs = await crdDirsIn(release, await moduleDir(release));
    const crdDirs: Record<string, string> = { gatewayApi: (await controlPlanePaths()).crdDirs.gatewayApi };
    dirs.forEach((dir, i) => (crdDirs[`release${i}`] = dir));
    const installed = await installCrds(cp.kubeConfig, crdDirs as unknown as CrdDirs, { includeVap: false });
    expect(installed.skipped.filter((s) => !/vap/i.test(s.file))).toEqual([]);
    crds = (await Promise.all(dirs.map(readCrds))).flat();
    await ensureNamespaces(cp.kubeConfig, TEAM, OTHER);
    server = await startWebhookServer({ kubeconfigPath: cp.kubeconfigPath });
    await registerWebhooks(cp.kubeConfig, { url: server.url, caPem: server.caPem, failurePolicy: 'Fail' });
  });
  afterAll(async () => {
    await server?.stop();
    await cp?.stop();
  });

  it(`serve picks the ${release.profile} profile from the CRDs`, () => {
    expect(server.logs()).toContain(`"profile":"${release.profile}"`);
  });

  it.each(sites.map((site, i) => [`${site.kind} ${site.path}`, site, i] as const))('%s: cross-namespace without a grant, then with the suggested one', async (_name, site, i) => {
    const crd = crds.find((c) => c.spec.group === site.group && c.spec.names.kind === site.kind)!;
    const version = site.versions[0]!;
    const ref = { name: `target-${i}`, namespace: OTHER, group: site.target.group, kind: site.target.kind };
    const object = sampleObject(crd, version, site.path, ref, { name: `site-${i}`, namespace: TEAM, spec: specHints(site.group, site.kind, site.path) });
    const collection = `/apis/${site.group}/${version}/namespaces/${TEAM}/${crd.spec.names.plural}`;
    const first = await create(cp.kubeConfig, collection, object);
    if (site.control === 'none' || grantRequirement(site.control, DEFAULT_GRANT_MODES) !== 'required') {
      // kgateway PERMISSIVE checks no extensionRef: neither do we.
      expect(first.status, first.text).toBe(201);
      return;
    }
    expect(first.status, first.text).toBe(403);
    expect(first.body.message).toContain(`${site.target.kind} ${OTHER}/target-${i}`);
    const grant = suggestedGrant(first.body.message);
    expect(grant.spec.to).toEqual([{ group: site.target.group, kind: site.target.kind, name: `target-${i}` }]);
    expect(grant.spec.from[0]).toEqual({ ...(site.grantFrom ?? { group: site.group, kind: site.kind }), namespace: TEAM });
    const applied = await create(cp.kubeConfig, PATHS.referenceGrants(OTHER), grant);
    expect(applied.status, applied.text).toBe(201);
    const second = await pollUntil('admission with the grant', async () => {
      const res = await create(cp.kubeConfig, collection, object);
      return res.status === 403 ? undefined : res;
    });
    expect(second.value.status, second.value.text).toBe(201);
  });

  it(`the Gateway cases of ${release.profile}: a Gateway of its controller gets its parameters kind`, async () => {
    const profile = PROFILES[release.profile as ProfileName];
    const className = 'release-class';
    expect((await create(cp.kubeConfig, PATHS.gatewayClasses, { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: className }, spec: { controllerName: profile.gatewayControllerNames[0] } })).status).toBe(201);
    const gateway = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: TEAM }, spec: { gatewayClassName: className, listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] } };
    // No parameters object in the namespace yet: the Gateway is left as it is
    // (the release's deployer would refuse a ref to a missing object), with a
    // warning that says what to do.
    const { value: untouched } = await pollUntil('the class in the view', async () => {
      const res = await create(cp.kubeConfig, PATHS.gateways(TEAM), gateway, { dryRun: true });
      expect(res.status, res.text).toBe(201);
      return (res.warnings ?? []).some((w: string) => w.includes('parametersRef not added')) ? res : undefined;
    });
    expect(untouched.body.spec.infrastructure).toBeUndefined();
    const paramsCrd = crds.find((c) => c.spec.group === profile.parametersRef.group && c.spec.names.kind === profile.parametersRef.kind)!;
    const params = { apiVersion: `${profile.parametersRef.group}/${paramsCrd.spec.versions[0]!.name}`, kind: profile.parametersRef.kind, metadata: { name: 'agentgateway-otel', namespace: TEAM }, spec: profile.parametersRef.kind === 'GatewayParameters' ? { kube: {} } : {} };
    const made = await create(cp.kubeConfig, `/apis/${profile.parametersRef.group}/${paramsCrd.spec.versions[0]!.name}/namespaces/${TEAM}/${paramsCrd.spec.names.plural}`, params);
    expect(made.status, made.text).toBe(201);
    const { value: patched } = await pollUntil('the parameters object in the view', async () => {
      const res = await create(cp.kubeConfig, PATHS.gateways(TEAM), gateway, { dryRun: true });
      expect(res.status, res.text).toBe(201);
      return res.body.spec.infrastructure ? res.body : undefined;
    });
    expect(patched.spec.infrastructure).toEqual({ parametersRef: { ...profile.parametersRef, name: 'agentgateway-otel' } });
  });

  it.skipIf(release.id !== EXAMPLE_RELEASE)('examples/agentgateway-v1.4 is accepted as it is, its Gateway wired to its AgentgatewayParameters', async () => {
    const docs = [];
    for (const file of (await readdir(EXAMPLES)).filter((f) => f.endsWith('.yaml')).sort()) {
      for (const doc of parseAllDocuments(await readFile(join(EXAMPLES, file), 'utf8'))) docs.push(doc.toJS() as Record<string, any>);
    }
    const collection = (obj: Record<string, any>): string => {
      const [group, version] = obj.apiVersion.includes('/') ? obj.apiVersion.split('/') : ['', obj.apiVersion];
      if (obj.kind === 'Namespace') return PATHS.namespaces;
      if (obj.kind === 'GatewayClass') return PATHS.gatewayClasses;
      const plural = obj.kind === 'Gateway' ? 'gateways' : obj.kind === 'ReferenceGrant' ? 'referencegrants' : crds.find((c) => c.spec.names.kind === obj.kind)!.spec.names.plural;
      return `/apis/${group}/${version}/namespaces/${obj.metadata.namespace}/${plural}`;
    };
    for (const obj of docs) {
      if (obj.kind === 'Gateway') {
        // The class must be in the webhook's view first, or the Gateway is admitted unwired.
        await pollUntil('the example class in the view', async () => ((await create(cp.kubeConfig, collection(obj), obj, { dryRun: true })).body.spec?.infrastructure ? true : undefined));
      }
      const res = await create(cp.kubeConfig, collection(obj), obj);
      expect(res.status, `${obj.kind} ${obj.metadata.name}: ${res.text}`).toBe(201);
      if (obj.kind === 'Gateway') {
        expect(res.body.spec.infrastructure).toEqual({ parametersRef: { group: 'agentgateway.dev', kind: 'AgentgatewayParameters', name: 'agentgateway-otel' } });
      }
    }
    expect(docs.map((d) => d.kind)).toEqual(['Namespace', 'Namespace', 'GatewayClass', 'AgentgatewayParameters', 'ReferenceGrant', 'Gateway', 'AgentgatewayPolicy']);
  });

  it.skipIf(!('deprecatedKinds' in PROFILES[release.profile as ProfileName]))('an admitted HTTPListenerPolicy is told to move to ListenerPolicy', async () => {
    const policy = { apiVersion: 'gateway.kgateway.dev/v1alpha1', kind: 'HTTPListenerPolicy', metadata: { name: 'deprecated', namespace: TEAM }, spec: { targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' }] } };
    const res = await create(cp.kubeConfig, PATHS.httpListenerPolicies(TEAM), policy);
    expect(res.status, res.text).toBe(201);
    expect(res.warnings.join('\n')).toContain('use ListenerPolicy');
  });
});
