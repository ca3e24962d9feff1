import type { Presence } from "@colyseus/core";
import type { Logger } from "pino";
import type { Db } from "../db/client.ts";

/** Runs jobs (bulk actions, member deactivation) item by item; resumes unfinished ones. Built in issue 4. */
export class JobRunner {
  constructor(
    readonly deps: { db: Db; presence: Presence; log: Logger; now: () => Date },
  ) {}
  start(): void {}
  kick(): void {}
  async stop(): Promise<void> {}
}
