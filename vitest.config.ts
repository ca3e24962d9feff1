import { defineConfig } from "vitest/config";
import SlowFirstSequencer from "./test/support/sequencer.ts";
import SummaryReporter from "./test/support/summary-reporter.ts";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    reporters: ["default", new SummaryReporter()],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    fileParallelism: true,
    // Files share their worker's module cache: the server stack is imported once per worker, not
    // once per file (that was ~47 s of the suite). Each file still starts its own server on its own
    // database (test/support/server.ts), and tokens are kept per server.
    isolate: false,
    maxWorkers: 2,
    sequence: { sequencer: SlowFirstSequencer },
  },
});
