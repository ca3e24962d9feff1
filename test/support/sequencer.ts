import { relative } from "node:path";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * Files known to take longest (a 5,000-item job; child servers, killed with `kill -9` or cut off
 * from their storage), longest first. Started first, they run beside the many short files on the
 * other worker instead of being picked up last and leaving one worker idle at the end. Vitest's
 * own order (by the durations it cached, or by file size on a fresh clone) decides the rest; a
 * name that no longer exists is simply not matched.
 */
export const SLOW_FIRST = [
  "test/cluster/cluster.test.ts",
  "test/cluster/shutdown.test.ts",
  "test/bulk/reopen-5000.test.ts",
  "test/restart/durability.test.ts",
  "test/restart/deactivation-resume.test.ts",
  "test/channels/delivery-restart.test.ts",
  "test/server/storage-outage.test.ts",
  "test/ops/migrate-race.test.ts",
  "test/ops/admin-init.test.ts",
  "test/rooms/two-process.test.ts",
  "test/server/live-roles-processes.test.ts",
  "test/server/redis-outage.test.ts",
  "test/live/team.test.ts",
];

export default class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => {
      const i = SLOW_FIRST.indexOf(relative(this.ctx.config.root, f.moduleId).replaceAll("\\", "/"));
      return i === -1 ? SLOW_FIRST.length : i;
    };
    const rest = await super.sort(files);
    return rest.map((f, i) => ({ f, i })).sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i).map(({ f }) => f);
  }
}
