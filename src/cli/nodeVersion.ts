/** The oldest Node major the CLI and server run on (package.json `engines`). */
export const MINIMUM_NODE_MAJOR = 24;

/** Why this Node cannot run kgateway-admission, or undefined when it can. */
export function nodeVersionProblem(version: string): string | undefined {
  const major = Number.parseInt(version.replace(/^v/, ''), 10);
  if (Number.isInteger(major) && major >= MINIMUM_NODE_MAJOR) return undefined;
  return `kgateway-admission needs Node ${MINIMUM_NODE_MAJOR} or newer (this is v${version.replace(/^v/, '')})`;
}
