// Test control plane: a real etcd + kube-apiserver on loopback, like
// controller-runtime's envtest, plus helpers to run and register our webhook.
//
// Plain Node ESM (no TypeScript loader needed) so scripts/cluster.mjs can use it;
// types are in controlPlane.d.mts and test code imports ./controlPlane.ts.
//
// Binaries come from `bash scripts/control-plane.sh build` (Go modules pinned
// under test/controlplane/); CRDs are read straight from the Go module cache.
import { spawn, execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as https from 'node:https';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import * as k8s from '@kubernetes/client-node';
import { generate as generateCert } from 'selfsigned';
import { parseAllDocuments } from 'yaml';

const execFileP = promisify(execFile);

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CONTROL_PLANE_SCRIPT = path.join(REPO_ROOT, 'scripts', 'control-plane.sh');
export const BUILD_HINT = 'bash scripts/control-plane.sh build';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------
// Process bookkeeping: everything we start in-process is killed on exit.
// ---------------------------------------------------------------------------

/** @type {Set<{ procs: import('node:child_process').ChildProcess[], dirs: string[] }>} */
const live = new Set();
let exitHookInstalled = false;

function track(entry) {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const e of live) {
        for (const p of e.procs) {
          try {
            if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
          } catch {
            /* already gone */
          }
        }
        for (const d of e.dirs) {
          try {
            fs.rmSync(d, { recursive: true, force: true });
          } catch {
            /* best effort */
          }
        }
      }
    });
  }
  live.add(entry);
  return entry;
}

let setprivPath;
/**
 * When the test process dies without running its exit hooks (SIGKILL of a
 * vitest worker), children started through `setpriv --pdeathsig SIGKILL` die
 * with it. setpriv execs the target, so the pid stays the same.
 */
function pdeathsigPrefix() {
  if (setprivPath === undefined) {
    setprivPath = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => fs.existsSync(p)) ?? null;
  }
  return setprivPath ? [setprivPath, '--pdeathsig', 'SIGKILL', '--'] : [];
}

/**
 * Spawns a binary with output going to a log file.
 * detached: survives this process (own process group, no pdeathsig, unref'd).
 */
function spawnLogged(bin, args, logFile, { detached = false, env, cwd } = {}) {
  const fd = fs.openSync(logFile, 'a');
  const argv = detached ? [bin, ...args] : [...pdeathsigPrefix(), bin, ...args];
  const child = spawn(argv[0], argv.slice(1), {
    stdio: ['ignore', fd, fd],
    detached,
    env: env ?? process.env,
    cwd,
  });
  fs.closeSync(fd);
  if (detached) child.unref();
  // Do not crash on spawn errors; callers watch `exit`/`error`.
  child.on('error', () => {});
  return child;
}

function isRunning(child) {
  return child.exitCode === null && child.signalCode === null;
}

async function killAndWait(child, timeoutMs = 10_000) {
  if (!child || !isRunning(child)) return;
  const exited = new Promise((r) => child.once('exit', r));
  try {
    child.kill('SIGKILL');
  } catch {
    return;
  }
  let timer;
  await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
  clearTimeout(timer);
}

/** Is a pid (possibly not our child) still alive? */
export function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/** SIGKILLs a pid (not necessarily our child) and waits until it is gone. */
export async function killPid(pid, timeoutMs = 10_000) {
  if (!pid || !pidAlive(pid)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  const deadline = Date.now() + timeoutMs;
  while (pidAlive(pid) && Date.now() < deadline) await sleep(50);
}

function tail(file, lines = 40) {
  try {
    const text = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    return text.slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

// ---------------------------------------------------------------------------
// Ports, certificates
// ---------------------------------------------------------------------------

/** Returns `count` distinct currently-free TCP ports on 127.0.0.1. */
export async function freePorts(count = 1) {
  const servers = [];
  try {
    for (let i = 0; i < count; i++) {
      const srv = net.createServer();
      await new Promise((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', resolve);
      });
      servers.push(srv);
    }
    return servers.map((s) => /** @type {net.AddressInfo} */ (s.address()).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(() => r()))));
  }
}

const CA_EXTENSIONS = [
  { name: 'basicConstraints', cA: true, critical: true },
  { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
];

/** A fresh self-signed CA (EC P-256). */
export async function generateCa(commonName = 'kgateway-admission-test-ca') {
  const ca = await generateCert([{ name: 'commonName', value: commonName }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: CA_EXTENSIONS,
  });
  return { certPem: ca.cert, keyPem: ca.private };
}

/**
 * A CA plus a serving certificate signed by it, for the given IPs / DNS names
 * (default 127.0.0.1, ::1 and localhost).
 */
export async function generateServingCert({
  ips = ['127.0.0.1', '::1'],
  dnsNames = ['localhost'],
  commonName = 'kgateway-admission-test',
  ca,
} = {}) {
  const issuer = ca ?? (await generateCa());
  const leaf = await generateCert([{ name: 'commonName', value: commonName }], {
    keyType: 'ec',
    algorithm: 'sha256',
    ca: { key: issuer.keyPem, cert: issuer.certPem },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          ...dnsNames.map((value) => ({ type: 2, value })),
          ...ips.map((ip) => ({ type: 7, ip })),
        ],
      },
    ],
  });
  return { caPem: issuer.certPem, caKeyPem: issuer.keyPem, certPem: leaf.cert, keyPem: leaf.private };
}

async function generateClientCert(ca, commonName, organization) {
  const attrs = [{ name: 'commonName', value: commonName }];
  if (organization) attrs.push({ name: 'organizationName', value: organization });
  const c = await generateCert(attrs, {
    keyType: 'ec',
    algorithm: 'sha256',
    ca: { key: ca.keyPem, cert: ca.certPem },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', clientAuth: true },
    ],
  });
  return { certPem: c.cert, keyPem: c.private };
}

const b64 = (s) => Buffer.from(s).toString('base64');

/** Builds a kubeconfig YAML/JSON string with embedded data (JSON is valid YAML). */
export function buildKubeconfig({ server, caPem, clientCertPem, clientKeyPem, token, name = 'kga-test', user = 'admin' }) {
  /** @type {Record<string, string>} */
  const userEntry = {};
  if (clientCertPem) userEntry['client-certificate-data'] = b64(clientCertPem);
  if (clientKeyPem) userEntry['client-key-data'] = b64(clientKeyPem);
  if (token) userEntry.token = token;
  return (
    JSON.stringify(
      {
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name, cluster: { server, 'certificate-authority-data': b64(caPem) } }],
        users: [{ name: user, user: userEntry }],
        contexts: [{ name, context: { cluster: name, user } }],
        'current-context': name,
        preferences: {},
      },
      null,
      2,
    ) + '\n'
  );
}

// ---------------------------------------------------------------------------
// Minimal HTTPS client on top of a KubeConfig (raw API paths, any content type)
// ---------------------------------------------------------------------------

/**
 * Raw request against the API server of `kc`'s current context.
 * @returns {Promise<{ status: number, body: any, text: string }>}
 */
export async function kubeRequest(kc, method, apiPath, { body, contentType = 'application/json', timeoutMs = 30_000 } = {}) {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  /** @type {https.RequestOptions} */
  const opts = {};
  await kc.applyToHTTPSOptions(opts);
  const url = new URL(apiPath, cluster.server);
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const headers = { ...(opts.headers ?? {}), accept: 'application/json' };
  if (payload !== undefined) {
    headers['content-type'] = contentType;
    headers['content-length'] = Buffer.byteLength(payload);
  }
  const mod = url.protocol === 'https:' ? https : http;
  return await new Promise((resolve, reject) => {
    const req = mod.request(url, { ...opts, method, headers, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, text, warnings: parseWarningHeaders(res.headers.warning) });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${apiPath}: timed out after ${timeoutMs}ms`)));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/**
 * The texts of RFC 7234 Warning headers as the API server sends admission
 * warnings (`299 - "text"`), what kubectl prints as `Warning: text`.
 * @param {string | string[] | undefined} header
 */
export function parseWarningHeaders(header) {
  const values = header === undefined ? [] : Array.isArray(header) ? header : [header];
  const texts = [];
  for (const value of values) {
    for (const match of value.matchAll(/\d{3} \S+ "((?:[^"\\]|\\.)*)"/g)) texts.push(match[1].replace(/\\(.)/g, '$1'));
  }
  return texts;
}

async function kubeOk(kc, method, apiPath, opts) {
  const res = await kubeRequest(kc, method, apiPath, opts);
  if (res.status < 200 || res.status >= 300) {
    const msg = typeof res.body === 'object' && res.body?.message ? res.body.message : res.text.slice(0, 500);
    const err = new Error(`${method} ${apiPath} -> ${res.status}: ${msg}`);
    /** @type {any} */ (err).status = res.status;
    throw err;
  }
  return res.body;
}

// Cluster-scoped kinds the harness knows how to apply (what the CRD dirs contain).
const CLUSTER_KINDS = {
  'apiextensions.k8s.io/v1/CustomResourceDefinition': '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy': '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies',
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding':
    '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings',
  'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration': '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
  'admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration':
    '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations',
};

const FIELD_MANAGER = 'kgateway-admission-test';

/** Server-side applies one cluster-scoped object of a kind listed above. */
export async function applyClusterObject(kc, obj) {
  const base = CLUSTER_KINDS[`${obj.apiVersion}/${obj.kind}`];
  if (!base) throw new Error(`applyClusterObject: unsupported kind ${obj.apiVersion} ${obj.kind}`);
  const name = encodeURIComponent(obj.metadata.name);
  return kubeOk(kc, 'PATCH', `${base}/${name}?fieldManager=${FIELD_MANAGER}&force=true`, {
    body: obj,
    contentType: 'application/apply-patch+yaml',
  });
}

// ---------------------------------------------------------------------------
// Binaries and CRD locations
// ---------------------------------------------------------------------------

let pathsPromise;
/**
 * Output of `scripts/control-plane.sh paths` (binary paths may not exist yet).
 * @returns {Promise<import('./controlPlane.d.mts').ControlPlanePaths>}
 */
export function controlPlanePaths() {
  pathsPromise ??= execFileP('bash', [CONTROL_PLANE_SCRIPT, 'paths'], { cwd: REPO_ROOT, maxBuffer: 1 << 20 })
    .then(({ stdout }) => JSON.parse(stdout))
    .catch((e) => {
      pathsPromise = undefined;
      throw new Error(`scripts/control-plane.sh paths failed: ${e.stderr || e.message}`);
    });
  return pathsPromise;
}

function goAvailable() {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && fs.existsSync(path.join(dir, 'go'))) return true;
  }
  return fs.existsSync('/usr/local/go/bin/go');
}

function binariesPresent(p) {
  return [p.kubeApiserver, p.etcd].every((b) => {
    try {
      fs.accessSync(b, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

let ensurePromise;
/**
 * Makes sure kube-apiserver and etcd are built (running the build script when
 * Go is available; the script reuses its cache and serialises concurrent builds).
 * Never throws: returns `{ ok: false, reason }` when they cannot be had.
 * @returns {Promise<import('./controlPlane.d.mts').EnsureBinariesResult>}
 */
export function ensureControlPlaneBinaries({ build = true } = {}) {
  ensurePromise ??= (async () => {
    if (!goAvailable()) {
      return { ok: false, reason: 'Go is not installed (need `go` on PATH or /usr/local/go/bin/go)' };
    }
    let p;
    try {
      p = await controlPlanePaths();
    } catch (e) {
      return { ok: false, reason: String(e.message ?? e) };
    }
    if (binariesPresent(p)) return { ok: true, paths: p };
    if (!build) return { ok: false, reason: `control-plane binaries are not built (${p.kubeApiserver})` };
    process.stderr.write(
      `[control-plane] binaries missing: running \`${BUILD_HINT}\` (first build of kube-apiserver takes 10+ minutes) ...\n`,
    );
    const start = Date.now();
    const code = await new Promise((resolve) => {
      const child = spawn('bash', [CONTROL_PLANE_SCRIPT, 'build'], { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
      child.on('error', () => resolve(-1));
      child.on('exit', (c) => resolve(c ?? -1));
    });
    if (code !== 0 || !binariesPresent(p)) {
      return { ok: false, reason: `\`${BUILD_HINT}\` failed (exit ${code})` };
    }
    process.stderr.write(`[control-plane] build finished in ${Math.round((Date.now() - start) / 1000)}s\n`);
    return { ok: true, paths: p };
  })();
  return ensurePromise;
}

/**
 * For test files: `const skip = await requireControlPlane(); describe.skipIf(skip)(...)`.
 * Resolves to undefined when the control plane can run; otherwise, outside CI,
 * prints one loud line to stderr and resolves to the reason. With CI=true it throws.
 * Set KGA_CONTROLPLANE_NO_BUILD=1 to skip (instead of build) when binaries are missing.
 * @returns {Promise<string | undefined>}
 */
export async function requireControlPlane() {
  const res = await ensureControlPlaneBinaries({ build: process.env.KGA_CONTROLPLANE_NO_BUILD !== '1' });
  if (res.ok) return undefined;
  const reason = res.reason;
  if (process.env.CI === 'true') {
    throw new Error(`control-plane tests cannot run in CI: ${reason}. Run \`${BUILD_HINT}\`.`);
  }
  process.stderr.write(
    `\n!!! SKIPPING control-plane tests: ${reason}. Enable them with: ${BUILD_HINT} (needs Go) !!!\n\n`,
  );
  return reason;
}

// ---------------------------------------------------------------------------
// CRDs
// ---------------------------------------------------------------------------

/**
 * Reads every YAML manifest in the CRD dirs. Skips NOTES.txt / non-YAML files.
 * Files with Helm template syntax: lines that are only `{{ ... }}` directives are
 * dropped; a file with `{{` left inside a line is skipped (and reported).
 */
export async function loadCrdManifests(crdDirs, { includeVap = true } = {}) {
  /** @type {{ file: string, obj: any }[]} */
  const objects = [];
  /** @type {{ file: string, reason: string }[]} */
  const skipped = [];
  /** @type {string[]} */
  const notes = [];
  for (const [, dir] of Object.entries(crdDirs)) {
    const files = (await fsp.readdir(dir)).filter((f) => f.endsWith('.yaml') || f.endsWith('.yml')).sort();
    for (const f of files) {
      const file = path.join(dir, f);
      if (!includeVap && /vap/i.test(f)) {
        skipped.push({ file, reason: 'ValidatingAdmissionPolicy file skipped (includeVap=false)' });
        continue;
      }
      let text = await fsp.readFile(file, 'utf8');
      if (text.includes('{{')) {
        text = text
          .split('\n')
          .filter((l) => !/^\s*\{\{-?.*-?\}\}\s*$/.test(l))
          .join('\n');
        if (text.includes('{{')) {
          skipped.push({ file, reason: 'contains Helm template expressions' });
          continue;
        }
        notes.push(`${f}: stripped Helm directive lines`);
      }
      for (const doc of parseAllDocuments(text)) {
        if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0]?.message}`);
        const obj = doc.toJS();
        if (obj && typeof obj === 'object' && obj.kind) objects.push({ file, obj });
      }
    }
  }
  return { objects, skipped, notes };
}

async function mapLimit(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i], i);
      }
    }),
  );
  return results;
}

/**
 * Applies the CRDs (then the gateway-api ValidatingAdmissionPolicy, if any) and
 * waits until every CRD is Established.
 */
export async function installCrds(kc, crdDirs, { includeVap = true, timeoutMs = 120_000, createGrace = true } = {}) {
  const { objects, skipped, notes } = await loadCrdManifests(crdDirs, { includeVap });
  const crds = objects.filter((o) => o.obj.kind === 'CustomResourceDefinition');
  const others = objects.filter((o) => o.obj.kind !== 'CustomResourceDefinition');
  await mapLimit(crds, 4, async ({ file, obj }) => {
    try {
      await applyClusterObject(kc, obj);
    } catch (e) {
      throw new Error(`applying ${path.basename(file)}: ${e.message}`);
    }
  });
  /** @type {string[]} */
  const appliedOther = [];
  for (const { file, obj } of others) {
    try {
      await applyClusterObject(kc, obj);
      appliedOther.push(`${obj.kind}/${obj.metadata.name}`);
    } catch (e) {
      skipped.push({ file, reason: `${obj.kind}/${obj.metadata?.name}: ${e.message}` });
    }
  }
  const names = crds.map((c) => c.obj.metadata.name);
  const establishedAt = await waitForCrdsEstablished(kc, names, timeoutMs);
  await waitForCrdsServing(kc, crds.map((c) => c.obj), timeoutMs);
  if (createGrace) {
    // The API server sleeps 2 s in every create of a custom resource whose CRD became
    // Established less than 2 s ago (customresource_handler.go, "justCreated").
    const wait = establishedAt + 2050 - Date.now();
    if (wait > 0) await sleep(wait);
  }
  return { crds: names, others: appliedOther, skipped, notes };
}

/**
 * Polls until every named CRD has condition Established=True.
 * Resolves to the latest Established lastTransitionTime (ms since epoch).
 */
export async function waitForCrdsEstablished(kc, names, timeoutMs = 120_000) {
  const pending = new Set(names);
  let latest = 0;
  const deadline = Date.now() + timeoutMs;
  while (pending.size) {
    await Promise.all(
      [...pending].map(async (name) => {
        const res = await kubeRequest(kc, 'GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
        const conds = res.status === 200 ? (res.body?.status?.conditions ?? []) : [];
        const est = conds.find((c) => c.type === 'Established' && c.status === 'True');
        if (est) {
          pending.delete(name);
          latest = Math.max(latest, Date.parse(est.lastTransitionTime) || 0);
        }
      }),
    );
    if (!pending.size) break;
    if (Date.now() > deadline) throw new Error(`CRDs not Established after ${timeoutMs}ms: ${[...pending].join(', ')}`);
    await sleep(100);
  }
  return latest;
}

/**
 * Established is not quite enough: the API server creates a CRD's storage (and its
 * watch cache) on first use, and until that cache is ready lists answer 429 and the
 * first write waits ~2 s. Listing every served version once, until 200, does that
 * for all CRDs in parallel during start-up instead of inside the first test.
 */
export async function waitForCrdsServing(kc, crdObjects, timeoutMs = 120_000) {
  await Promise.all(
    crdObjects.flatMap((crd) =>
      (crd.spec.versions ?? [])
        .filter((v) => v.served)
        .map((v) =>
          waitFor(
            `${crd.metadata.name} ${v.name} served`,
            async () =>
              (await kubeRequest(kc, 'GET', `/apis/${crd.spec.group}/${v.name}/${crd.spec.names.plural}?limit=1`)).status === 200,
            { timeoutMs, intervalMs: 100 },
          ),
        ),
    ),
  );
}

// ---------------------------------------------------------------------------
// The control plane
// ---------------------------------------------------------------------------

async function waitFor(what, fn, { timeoutMs, intervalMs = 100, abort }) {
  const deadline = Date.now() + timeoutMs;
  let lastErr;
  for (;;) {
    const reason = abort?.();
    if (reason) throw new Error(`${what}: ${reason}`);
    try {
      if (await fn()) return;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what}: not ready after ${timeoutMs}ms${lastErr ? ` (last error: ${lastErr.message})` : ''}`);
    }
    await sleep(intervalMs);
  }
}

function httpGetOk(url) {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
  });
}

const TEMP_PREFIX = 'kga-controlplane-';

/** Removes temp dirs left by test processes that were SIGKILLed (their owner pid is gone). */
async function sweepStaleTempDirs() {
  let names = [];
  try {
    names = (await fsp.readdir(os.tmpdir())).filter((n) => n.startsWith(TEMP_PREFIX));
  } catch {
    return;
  }
  for (const n of names) {
    const d = path.join(os.tmpdir(), n);
    try {
      const owner = Number((await fsp.readFile(path.join(d, 'owner.pid'), 'utf8')).trim());
      if (owner && !pidAlive(owner)) await fsp.rm(d, { recursive: true, force: true });
    } catch {
      /* no owner file yet, or not ours */
    }
  }
}

/**
 * Starts etcd + kube-apiserver on loopback, installs the CRDs.
 * @param {import('./controlPlane.d.mts').StartControlPlaneOptions} [opts]
 * @returns {Promise<import('./controlPlane.d.mts').ControlPlane>}
 */
export async function startControlPlane(opts = {}) {
  const t0 = Date.now();
  const {
    installCrds: doInstallCrds = true,
    includeVap = true,
    extraApiServerArgs = [],
    startTimeoutMs = 120_000,
    detached = false,
    createGrace = true,
    verbose = !!process.env.KGA_CONTROLPLANE_VERBOSE,
  } = opts;
  const ensured = await ensureControlPlaneBinaries();
  if (!ensured.ok) throw new Error(`control plane unavailable: ${ensured.reason}. Run \`${BUILD_HINT}\`.`);
  const paths = ensured.paths;

  if (!opts.dir) await sweepStaleTempDirs();
  const dir = opts.dir ? path.resolve(opts.dir) : await fsp.mkdtemp(path.join(os.tmpdir(), TEMP_PREFIX));
  await fsp.mkdir(dir, { recursive: true });
  const ownsDir = !opts.dir;
  if (ownsDir) await fsp.writeFile(path.join(dir, 'owner.pid'), String(process.pid));
  /** @type {{ procs: import('node:child_process').ChildProcess[], dirs: string[] }} */
  const entry = { procs: [], dirs: ownsDir ? [dir] : [] };
  if (!detached) track(entry);
  const log = (m) => verbose && process.stderr.write(`[control-plane] ${m} (+${Date.now() - t0}ms)\n`);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // apiserver first (it would otherwise log etcd errors), then etcd.
    for (const p of [...entry.procs].reverse()) await killAndWait(p);
    if (ownsDir) await fsp.rm(dir, { recursive: true, force: true });
    live.delete(entry);
  };

  try {
    const [etcdClientPort, etcdPeerPort, apiPort] = await freePorts(3);
    const host = '127.0.0.1';

    // --- etcd
    const etcdUrl = `http://${host}:${etcdClientPort}`;
    const etcdLog = path.join(dir, 'etcd.log');
    const etcd = spawnLogged(
      paths.etcd,
      [
        '--name=kga',
        `--data-dir=${path.join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://${host}:${etcdPeerPort}`,
        `--initial-advertise-peer-urls=http://${host}:${etcdPeerPort}`,
        `--initial-cluster=kga=http://${host}:${etcdPeerPort}`,
        '--unsafe-no-fsync',
        '--log-level=warn',
      ],
      etcdLog,
      { detached },
    );
    entry.procs.push(etcd);
    const etcdDead = () => (isRunning(etcd) ? undefined : `etcd exited (${etcd.exitCode ?? etcd.signalCode}):\n${tail(etcdLog)}`);

    // --- certificates and keys (generated while etcd starts)
    const ca = await generateCa('kga-test-cluster-ca');
    const serving = await generateServingCert({ ca, commonName: 'kube-apiserver', dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'] });
    const admin = await generateClientCert(ca, 'kga-admin', 'system:masters');
    const sa = generateKeyPairSync('ec', {
      namedCurve: 'prime256v1',
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    const pki = path.join(dir, 'pki');
    await fsp.mkdir(pki, { recursive: true });
    const f = (n) => path.join(pki, n);
    await Promise.all([
      fsp.writeFile(f('ca.crt'), ca.certPem),
      fsp.writeFile(f('apiserver.crt'), serving.certPem),
      fsp.writeFile(f('apiserver.key'), serving.keyPem, { mode: 0o600 }),
      fsp.writeFile(f('sa.pub'), sa.publicKey),
      fsp.writeFile(f('sa.key'), sa.privateKey, { mode: 0o600 }),
    ]);

    await waitFor('etcd', () => httpGetOk(`${etcdUrl}/health`), { timeoutMs: 30_000, abort: etcdDead });
    log(`etcd ready at ${etcdUrl}`);

    // --- kube-apiserver
    const server = `https://${host}:${apiPort}`;
    const apiLog = path.join(dir, 'kube-apiserver.log');
    const apiserver = spawnLogged(
      paths.kubeApiserver,
      [
        `--etcd-servers=${etcdUrl}`,
        `--bind-address=${host}`,
        `--advertise-address=${host}`,
        `--secure-port=${apiPort}`,
        `--cert-dir=${pki}`,
        `--tls-cert-file=${f('apiserver.crt')}`,
        `--tls-private-key-file=${f('apiserver.key')}`,
        `--client-ca-file=${f('ca.crt')}`,
        '--authorization-mode=RBAC',
        `--service-account-issuer=${server}`,
        `--service-account-key-file=${f('sa.pub')}`,
        `--service-account-signing-key-file=${f('sa.key')}`,
        '--service-cluster-ip-range=10.0.0.0/24',
        '--allow-privileged=true',
        '--disable-admission-plugins=ServiceAccount',
        ...extraApiServerArgs,
      ],
      apiLog,
      { detached },
    );
    entry.procs.push(apiserver);
    const apiDead = () =>
      etcdDead() ?? (isRunning(apiserver) ? undefined : `kube-apiserver exited (${apiserver.exitCode ?? apiserver.signalCode}):\n${tail(apiLog)}`);

    const kubeconfigPath = path.join(dir, 'kubeconfig');
    await fsp.writeFile(
      kubeconfigPath,
      buildKubeconfig({ server, caPem: ca.certPem, clientCertPem: admin.certPem, clientKeyPem: admin.keyPem }),
      { mode: 0o600 },
    );
    const kubeConfig = new k8s.KubeConfig();
    kubeConfig.loadFromFile(kubeconfigPath);

    await waitFor(
      'kube-apiserver /readyz',
      async () => (await kubeRequest(kubeConfig, 'GET', '/readyz', { timeoutMs: 5000 })).status === 200,
      { timeoutMs: startTimeoutMs, intervalMs: 200, abort: apiDead },
    );
    const readyMs = Date.now() - t0;
    log(`kube-apiserver ready at ${server}`);

    let crdInfo = { crds: [], others: [], skipped: [], notes: [] };
    if (doInstallCrds) {
      crdInfo = await installCrds(kubeConfig, paths.crdDirs, { includeVap, timeoutMs: startTimeoutMs, createGrace });
      log(`${crdInfo.crds.length} CRDs established`);
    }
    for (const s of crdInfo.skipped) process.stderr.write(`[control-plane] skipped ${path.basename(s.file)}: ${s.reason}\n`);

    return {
      kubeconfigPath,
      server,
      kubeConfig,
      caPem: ca.certPem,
      dir,
      etcdUrl,
      pids: { etcd: etcd.pid, kubeApiserver: apiserver.pid },
      logs: { etcd: etcdLog, kubeApiserver: apiLog },
      versions: paths.versions,
      crds: crdInfo,
      timings: { readyMs, totalMs: Date.now() - t0 },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

// ---------------------------------------------------------------------------
// Our webhook server (dist/cli/main.js serve) and its registration
// ---------------------------------------------------------------------------

function httpsGetStatus(url, caPem) {
  return new Promise((resolve) => {
    const req = https.get(url, { ca: caPem, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
  });
}

/**
 * Spawns `node dist/cli/main.js serve` with a fresh serving cert on free ports and
 * waits for GET /readyz to answer 200.
 * @param {import('./controlPlane.d.mts').StartWebhookServerOptions} opts
 * @returns {Promise<import('./controlPlane.d.mts').WebhookServer>}
 */
export async function startWebhookServer(opts) {
  const {
    kubeconfigPath,
    extraArgs = [],
    env,
    readyTimeoutMs = 60_000,
    entry = path.join(REPO_ROOT, 'dist', 'cli', 'main.js'),
    detached = false,
  } = opts;
  if (!fs.existsSync(entry)) throw new Error(`${entry} does not exist: run \`npm run build\` first`);
  const dir = opts.dir ? path.resolve(opts.dir) : await fsp.mkdtemp(path.join(os.tmpdir(), 'kga-webhook-'));
  await fsp.mkdir(dir, { recursive: true });
  const ownsDir = !opts.dir;
  const certs = opts.certs ?? (await generateServingCert());
  const certFile = path.join(dir, 'tls.crt');
  const keyFile = path.join(dir, 'tls.key');
  await fsp.writeFile(certFile, certs.certPem);
  await fsp.writeFile(keyFile, certs.keyPem, { mode: 0o600 });
  await fsp.writeFile(path.join(dir, 'ca.crt'), certs.caPem);

  const [port, metricsPort] = opts.port && opts.metricsPort ? [opts.port, opts.metricsPort] : await freePorts(2);
  const logFile = path.join(dir, 'webhook.log');
  const args = [
    entry,
    'serve',
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--metrics-port',
    String(metricsPort),
    '--tls-cert',
    certFile,
    '--tls-key',
    keyFile,
    '--kubeconfig',
    path.resolve(kubeconfigPath),
    ...extraArgs,
  ];
  const child = spawnLogged(process.execPath, args, logFile, {
    detached,
    cwd: REPO_ROOT,
    env: { ...process.env, ...(env ?? {}) },
  });
  const entryRec = { procs: [child], dirs: ownsDir ? [dir] : [] };
  if (!detached) track(entryRec);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await killAndWait(child);
    if (ownsDir) await fsp.rm(dir, { recursive: true, force: true });
    live.delete(entryRec);
  };
  const url = `https://127.0.0.1:${port}`;
  try {
    await waitFor('webhook server /readyz', async () => (await httpsGetStatus(`${url}/readyz`, certs.caPem)) === 200, {
      timeoutMs: readyTimeoutMs,
      intervalMs: 150,
      abort: () => (isRunning(child) ? undefined : `webhook server exited (${child.exitCode ?? child.signalCode}):\n${tail(logFile)}`),
    });
  } catch (e) {
    e.message += `\n--- webhook log (${logFile}) ---\n${tail(logFile)}`;
    await stop();
    throw e;
  }
  return {
    url,
    caPem: certs.caPem,
    metricsUrl: `http://127.0.0.1:${metricsPort}`,
    port,
    metricsPort,
    pid: child.pid,
    logFile,
    logs: () => {
      try {
        return fs.readFileSync(logFile, 'utf8');
      } catch {
        return '';
      }
    },
    stop,
  };
}

export const DEFAULT_WEBHOOK_NAME = 'kgateway-admission';
const PROBE_LABEL = 'kgateway-admission.test/webhook-probe';

function probeWebhook(kind, name) {
  return {
    name: `probe-${kind}.webhook-probe.kgateway-admission.test`,
    // Unreachable on purpose: a probe ConfigMap is rejected once this configuration is live.
    clientConfig: { url: 'https://127.0.0.1:1/probe' },
    rules: [{ apiGroups: [''], apiVersions: ['v1'], resources: ['configmaps'], operations: ['CREATE'], scope: 'Namespaced' }],
    objectSelector: { matchLabels: { [PROBE_LABEL]: `${kind}-${name}` } },
    sideEffects: 'None',
    admissionReviewVersions: ['v1'],
    failurePolicy: 'Fail',
    matchPolicy: 'Equivalent',
    timeoutSeconds: 2,
  };
}

/** true when the probe webhook of configuration kind/name is being called by the API server. */
async function probeActive(kc, kind, name) {
  const res = await kubeRequest(kc, 'POST', '/api/v1/namespaces/default/configmaps?dryRun=All', {
    body: {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { generateName: 'kga-webhook-probe-', labels: { [PROBE_LABEL]: `${kind}-${name}` } },
    },
  });
  if (res.status >= 200 && res.status < 300) return false;
  const msg = String(res.body?.message ?? res.text);
  if (msg.includes(`probe-${kind}.webhook-probe`)) return true;
  throw new Error(`webhook probe: unexpected answer ${res.status}: ${msg.slice(0, 300)}`);
}

/**
 * Registers (server-side apply) a MutatingWebhookConfiguration (`/mutate`: Gateways)
 * and a ValidatingWebhookConfiguration (`/validate`: HTTPListenerPolicies and
 * ListenerPolicies, GatewayExtensions, AgentgatewayPolicies and AgentgatewayBackends) pointing at `url` with `caPem` as caBundle, and waits until the
 * API server actually calls them (via a probe webhook on labelled dry-run ConfigMaps).
 * @param {k8s.KubeConfig} kc
 * @param {import('./controlPlane.d.mts').RegisterWebhooksOptions} opts
 */
export async function registerWebhooks(kc, opts) {
  const {
    url,
    caPem,
    failurePolicy = 'Fail',
    name = DEFAULT_WEBHOOK_NAME,
    timeoutSeconds = 10,
    namespaceSelector,
    waitMs = 30_000,
    guardReferenceGrants = true,
  } = opts;
  const base = url.replace(/\/+$/, '');
  const caBundle = b64(caPem);
  const common = {
    sideEffects: 'None',
    admissionReviewVersions: ['v1'],
    failurePolicy,
    matchPolicy: 'Equivalent',
    timeoutSeconds,
    ...(namespaceSelector ? { namespaceSelector } : {}),
  };
  const mutating = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name, labels: { 'app.kubernetes.io/managed-by': FIELD_MANAGER } },
    webhooks: [
      {
        name: 'gateways.mutate.kgateway-admission.kgateway.dev',
        clientConfig: { url: `${base}/mutate`, caBundle },
        rules: [
          {
            apiGroups: ['gateway.networking.k8s.io'],
            apiVersions: ['v1', 'v1beta1'],
            resources: ['gateways'],
            operations: ['CREATE', 'UPDATE'],
            scope: 'Namespaced',
          },
        ],
        reinvocationPolicy: 'Never',
        ...common,
      },
      probeWebhook('mutating', name),
    ],
  };
  const validating = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name, labels: { 'app.kubernetes.io/managed-by': FIELD_MANAGER } },
    webhooks: [
      {
        name: 'policies.validate.kgateway-admission.kgateway.dev',
        clientConfig: { url: `${base}/validate`, caBundle },
        rules: [
          {
            apiGroups: ['gateway.kgateway.dev'],
            apiVersions: ['v1alpha1'],
            resources: ['httplistenerpolicies', 'listenerpolicies', 'gatewayextensions'],
            operations: ['CREATE', 'UPDATE'],
            scope: 'Namespaced',
          },
          {
            apiGroups: ['agentgateway.dev'],
            apiVersions: ['v1alpha1'],
            resources: ['agentgatewaypolicies', 'agentgatewaybackends'],
            operations: ['CREATE', 'UPDATE'],
            scope: 'Namespaced',
          },
          ...(guardReferenceGrants
            ? [
                {
                  apiGroups: ['gateway.networking.k8s.io'],
                  apiVersions: ['v1', 'v1beta1'],
                  resources: ['referencegrants'],
                  operations: ['UPDATE', 'DELETE'],
                  scope: 'Namespaced',
                },
              ]
            : []),
        ],
        ...common,
      },
      probeWebhook('validating', name),
    ],
  };
  await applyClusterObject(kc, mutating);
  await applyClusterObject(kc, validating);
  for (const kind of ['mutating', 'validating']) {
    await waitFor(`${kind} webhook configuration ${name} to take effect`, () => probeActive(kc, kind, name), {
      timeoutMs: waitMs,
      intervalMs: 100,
    });
  }
  return { mutating, validating };
}

/** Deletes both webhook configurations and waits until the API server stops calling them. */
export async function unregisterWebhooks(kc, { name = DEFAULT_WEBHOOK_NAME, waitMs = 30_000 } = {}) {
  for (const [kind, plural] of [
    ['mutating', 'mutatingwebhookconfigurations'],
    ['validating', 'validatingwebhookconfigurations'],
  ]) {
    const res = await kubeRequest(kc, 'DELETE', `/apis/admissionregistration.k8s.io/v1/${plural}/${name}`);
    if (res.status === 404) continue;
    if (res.status >= 300) throw new Error(`deleting ${plural}/${name}: ${res.status} ${res.text.slice(0, 300)}`);
    await waitFor(`${kind} webhook configuration ${name} to be gone`, async () => !(await probeActive(kc, kind, name)), {
      timeoutMs: waitMs,
      intervalMs: 100,
    });
  }
}

// ---------------------------------------------------------------------------
// Fault injection (hardening tests): kill kube-apiserver, start it again on the
// same port and etcd, or start a second instance beside it (an HA peer).
// ---------------------------------------------------------------------------

/** cp -> how its kube-apiserver was launched, and the instances started since. */
const apiServerLaunches = new WeakMap();

function apiServerLaunch(cp) {
  let launch = apiServerLaunches.get(cp);
  if (launch) return launch;
  // The exact command line the control plane started it with (setpriv execs, so
  // the pid's argv is kube-apiserver's own). Linux only, as the harness is.
  const argv = fs.readFileSync(`/proc/${cp.pids.kubeApiserver}/cmdline`, 'utf8').split('\0').filter(Boolean);
  launch = { bin: argv[0], args: argv.slice(1), children: [] };
  apiServerLaunches.set(cp, launch);
  const stop = cp.stop;
  cp.stop = async () => {
    for (const child of [...launch.children].reverse()) await killAndWait(child);
    await stop();
  };
  return launch;
}

/** SIGKILLs the control plane's current kube-apiserver; etcd keeps running. */
export async function killKubeApiserver(cp) {
  apiServerLaunch(cp);
  await killPid(cp.pids.kubeApiserver);
}

/**
 * Starts kube-apiserver with the control plane's flags, certificates and etcd:
 * on its own port again (after killKubeApiserver), or with `newPort` on a fresh
 * port beside it. `extraArgs` go after the control plane's flags (the last of a
 * repeated flag wins). Waits for /readyz.
 */
export async function startKubeApiserver(cp, { newPort = false, timeoutMs = 60_000, extraArgs = [] } = {}) {
  const launch = apiServerLaunch(cp);
  const port = newPort ? (await freePorts(1))[0] : Number(new URL(cp.server).port);
  const args = [...launch.args.map((a) => (a.startsWith('--secure-port=') ? `--secure-port=${port}` : a)), ...extraArgs];
  const child = spawnLogged(launch.bin, args, cp.logs.kubeApiserver);
  track({ procs: [child], dirs: [] });
  launch.children.push(child);
  const server = `https://127.0.0.1:${port}`;
  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromString(fs.readFileSync(cp.kubeconfigPath, 'utf8').replace(cp.server, server));
  await waitFor(`kube-apiserver on ${server} /readyz`, async () => (await kubeRequest(kubeConfig, 'GET', '/readyz', { timeoutMs: 5000 })).status === 200, {
    timeoutMs,
    intervalMs: 100,
    abort: () => (isRunning(child) ? undefined : `kube-apiserver exited (${child.exitCode ?? child.signalCode}):\n${tail(cp.logs.kubeApiserver)}`),
  });
  if (!newPort) cp.pids.kubeApiserver = child.pid;
  return { server, kubeConfig, pid: child.pid, stop: () => killAndWait(child) };
}
