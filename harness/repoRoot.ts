// The repository's root directory, for the harness and its importers (tests,
// scripts, bench) to find scripts/, dist/ and examples/ wherever they run from.
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
