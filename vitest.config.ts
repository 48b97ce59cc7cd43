import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    reporters: ['default', './test/support/countReporter.ts'],
    globalSetup: ['./test/support/buildOnce.ts'],
    // `npm run test:coverage`: what the suite runs of src/ in its own process
    // (servers started as child processes are not counted).
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts'],
      reporter: ['text-summary', 'json-summary'],
      reportsDirectory: 'coverage',
      reportOnFailure: true,
    },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // Generous: a property test or a CLI spawn runs 2-3x slower on a loaded 2-core machine under coverage.
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          // The first run on a machine builds the control plane from Go modules.
          testTimeout: 180_000,
          hookTimeout: 1_800_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
