import type { Presence } from "@colyseus/core";
import type { Logger } from "pino";
import type { Database } from "../../db/client.ts";
import type { MemberRow } from "../../db/repository.ts";
import type { Auth } from "../auth.ts";

/** What every route can reach through the context. */
export interface AppDeps {
  readonly database: Database;
  readonly auth: Auth;
  readonly log: Logger;
  readonly now: () => Date;
  readonly publishInbox: (memberId: string, event: unknown) => void;
  readonly presence: Presence;
  /** Asks the job runner to look for work now (after a job was created). */
  readonly kickJobs: () => void;
}

export interface AppEnv {
  Variables: {
    member: MemberRow | undefined;
    log: Logger | undefined;
  };
}
