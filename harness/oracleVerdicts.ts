// The table of the real controllers' verdicts (test/fixtures/oracle/verdicts.json):
// written by scripts/oracle-record.ts (`npm run oracle`), read by
// test/unit/oracle/oracleVerdicts.test.ts, which compares our decisions with it.
// One declaration for both sides.
import * as path from 'node:path';
import { REPO_ROOT } from './repoRoot.ts';

export const ORACLE_VERDICTS_FILE = path.join(REPO_ROOT, 'test/fixtures/oracle/verdicts.json');

export type OracleController = 'kgateway' | 'agentgateway';

/** An object as written to (or read back from) the API server. */
export type RecordedObject = Record<string, unknown>;

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

/** One reference site, with or without its ReferenceGrant, under one grant mode. */
export interface SiteVerdict {
  controller: OracleController;
  version: string;
  grantMode: string;
  case: string;
  group: string;
  kind: string;
  /** The dotted path of the one backendRef (src/rules/backendRefKinds.ts notation). */
  path: string;
  grant: boolean;
  object: RecordedObject;
  /** The ReferenceGrant written beside the target, when `grant`. */
  referenceGrant?: RecordedObject;
  /** Conditions the controller wrote (for a policy, those of its ancestor status), or [] when it wrote none in time. */
  conditions: Condition[];
}

/** The proxy Deployment the deployer rendered: each container's env. */
export interface RenderedDeployment {
  containers: { name: string; env: { name: string; value?: string }[] }[];
}

export type GatewayCaseName = 'parameters-present' | 'parameters-missing' | 'no-parameters-ref' | 'team-namespace-copy';

export interface GatewayVerdict {
  controller: OracleController;
  version: string;
  grantMode: string;
  case: GatewayCaseName;
  /** The Gateway as stored (for team-namespace-copy: as our mutating webhook patched it). */
  gateway: RecordedObject;
  conditions: Condition[];
  /** null when the deployer rendered none. */
  deployment: RenderedDeployment | null;
  /**
   * team-namespace-copy only: the Gateway was sent without a ref through our
   * webhook (`serve` with mutation.copyParameters on) into a namespace with no
   * parameters object; `sent` is what was sent, `source` the parameters object
   * copied (our config's source), `copy` what our copier wrote in the Gateway's
   * namespace, as read back before the controller started, and `webhookConfig`
   * the server config it ran with.
   */
  copied?: { profile: string; webhookConfig: Record<string, unknown>; sent: RecordedObject; source: RecordedObject; copy: RecordedObject };
}

export interface OracleTable {
  recordedBy: string;
  recordedAt: string;
  controllers: Partial<Record<OracleController, string>>;
  gatewayApi: string;
  sites: SiteVerdict[];
  gateways: GatewayVerdict[];
}
