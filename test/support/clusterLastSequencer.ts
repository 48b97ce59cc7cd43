import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Files that end the kind cluster they run on, in the order they run, after
 * every other file of their project: the install from a registry deletes the
 * cluster when it is done, and kind:up/kind:down's own test kills an up and
 * takes it down. Run earlier, each would make the next file wait for a new
 * `kind:up` (35-40 s).
 */
export const CLUSTER_ENDING_FILES = ['test/e2e/kind/registry.e2e.test.ts', 'test/e2e/kind/lifecycle.e2e.test.ts'];

const rank = (spec: TestSpecification): number => {
  const i = CLUSTER_ENDING_FILES.findIndex((file) => spec.moduleId.endsWith(`/${file}`));
  return i === -1 ? -1 : i;
};

/** vitest's order (groups, projects, then longest or largest first), with the cluster-ending files last in their project. */
export default class ClusterLastSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const position = new Map(sorted.map((spec, i) => [spec, i]));
    const project = (spec: TestSpecification) => sorted.findIndex((s) => s.project.name === spec.project.name);
    return [...sorted].sort((a, b) => project(a) - project(b) || rank(a) - rank(b) || position.get(a)! - position.get(b)!);
  }
}
