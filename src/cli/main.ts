#!/usr/bin/env node
// Nothing is imported statically here: on an older Node, a dependency
// (undici) fails while being loaded with an error that does not name the
// cause, so the version is checked before any of them is read.
import { nodeVersionProblem } from './nodeVersion.js';

const problem = nodeVersionProblem(process.versions.node);
if (problem) {
  process.stderr.write(`${problem}\n`);
  process.exitCode = 2;
} else {
  await import('./commands.js');
}
