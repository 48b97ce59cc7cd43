import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';
import ClusterLastSequencer from './test/support/clusterLastSequencer.ts';
import { pathWithPinnedKubectl } from './test/support/pinnedKubectl.ts';

// kubectl v1.36.3 built with the control plane (scripts/control-plane.sh
// build-kind) comes first on PATH in every test process, ahead of the
// machine's (no version skew with the API servers the tests start).
process.env.PATH = pathWithPinnedKubectl(fileURLToPath(new URL('.', import.meta.url)));

// The e2e suites that run against every target (test/support/e2eTarget.ts):
// today's server process (project e2e) and the chart's pods in kind (e2e-kind,
// npm run test:kind; what CI runs for the pod-level suites).
const TARGET_SUITES = [
  'test/e2e/webhook.e2e.test.ts',
  'test/e2e/otherKinds.e2e.test.ts',
  'test/e2e/profiles.e2e.test.ts',
  'test/e2e/audit.e2e.test.ts',
  'test/e2e/parametersCopies.e2e.test.ts',
  'test/e2e/chart*.e2e.test.ts',
];

// What only the chart's pods on a real node can show (docs/real-node.md): the
// scenarios under load and the container read from /proc, on kind.
const SCENARIOS = 'test/e2e/scenarios/**/*.test.ts';

const e2eTimeouts = {
  // The first run on a machine builds the control plane from Go modules.
  testTimeout: 180_000,
  hookTimeout: 1_800_000,
  fileParallelism: false,
};

export default defineConfig({
  test: {
    reporters: ['default', './test/support/countReporter.ts'],
    globalSetup: ['./test/support/buildOnce.ts'],
    sequence: { sequencer: ClusterLastSequencer },
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
          exclude: [...configDefaults.exclude, 'test/e2e/real/**', 'test/e2e/kind/**', 'test/e2e/scenarios/**'],
          ...e2eTimeouts,
          // Groups run one after the other, in this order: the kind project
          // shares one machine-wide cluster, brought up by its first test and
          // down by its globalSetup's teardown.
          sequence: { groupOrder: 1 },
        },
      },
      {
        // The image build (the Dockerfile, with docker or podman).
        test: { name: 'e2e-real', include: ['test/e2e/real/**/*.test.ts'], ...e2eTimeouts, sequence: { groupOrder: 2 } },
      },
      {
        test: {
          name: 'e2e-kind',
          // Plus kind:up and kind:down themselves (a killed up, then down), the
          // install from a registry, and what only pods can show.
          include: [...TARGET_SUITES, 'test/e2e/kind/**/*.test.ts', SCENARIOS],
          globalSetup: ['./test/support/kindTarget.ts'],
          ...e2eTimeouts,
          sequence: { groupOrder: 3 },
        },
      },
    ],
  },
});
