import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Files that end the kind cluster they run on, in the order they run, after
 * every other file of their project: the install from a registry deletes the
 * cluster when it is done, and kind:up/kind:down's own test kills an up and
 * takes it down. Run earlier, each would make the next file wait for a new
 * `kind:up` (35-40 s).
 */
export const CLUSTER_ENDING_FILES = ['test/e2e/kind/registry.e2e.test.ts', 'test/e2e/kind/lifecycle.e2e.test.ts'];

const rank = (spec: TestSpecification): number => CLUSTER_ENDING_FILES.findIndex((file) => spec.moduleId.endsWith(`/${file}`));

/** vitest's order (groups, projects, then longest or largest first), with the cluster-ending files last in their project. */
export default class ClusterLastSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const projectAt = new Map<string, number>();
    sorted.forEach((spec, i) => projectAt.has(spec.project.name) || projectAt.set(spec.project.name, i));
    // Array.prototype.sort is stable: the rest keeps vitest's order.
    return sorted.sort((a, b) => projectAt.get(a.project.name)! - projectAt.get(b.project.name)! || rank(a) - rank(b));
  }
}
