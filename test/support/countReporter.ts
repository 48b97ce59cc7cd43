import type { Reporter, TestModule, TestSuite } from 'vitest/node';

interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

/**
 * Counts the tests under a suite or file. A hook that threw (a beforeAll
 * that could not bring its cluster up, an afterAll that could not clean up)
 * is a failure: the tests it kept from running count as failed, not skipped,
 * and a hook error after tests that all passed counts as one failure.
 */
function count(node: TestModule | TestSuite, into: Counts, underFailedHook: boolean): void {
  const ownHookFailed = node.errors().length > 0;
  const hookFailed = underFailedHook || ownHookFailed;
  const before = into.failed;
  for (const child of node.children) {
    if (child.type === 'suite') {
      count(child, into, hookFailed);
      continue;
    }
    const state = child.result().state;
    if (state === 'passed') into.passed++;
    else if (state === 'failed' || hookFailed) into.failed++;
    else into.skipped++;
  }
  if (ownHookFailed && into.failed === before) into.failed++;
}

/**
 * Ends every run with the plain line `N passed, N failed, N skipped`, the count
 * CI reads (vitest's own closing lines are not read as one).
 */
export default class CountReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    const counts: Counts = { passed: 0, failed: 0, skipped: 0 };
    for (const module of testModules) {
      const failedBefore = counts.failed;
      count(module, counts, false);
      // A file that failed to load has no tests and maybe no errors of its own, but is a failure.
      if (module.state() === 'failed' && counts.failed === failedBefore) counts.failed++;
    }
    counts.failed += unhandledErrors.length;
    process.stdout.write(`\n${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`);
  }
}
