import type { Presence } from "@colyseus/core";
import type { Logger } from "pino";
import type { Database } from "../../db/client.ts";
import type { MemberRow } from "../../db/repository.ts";
import type { Auth } from "../auth.ts";
import type { Intake } from "../channels/intake.ts";
import type { VisitorTokens } from "../channels/webchat/visitors.ts";
import type { PushSetup } from "../push/setup.ts";

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
  /** Provider events in: `intake.receive(account, events)` commits them, then processes them (server/channels/intake.ts). */
  readonly intake: Intake;
  /** The base of the webhook URLs channel accounts answer: `PUBLIC_URL`, else `http://127.0.0.1:<port>` (known once listening). */
  readonly publicUrl: () => string;
  /** Webchat visitor tokens (the `webchat` room's auth). */
  readonly visitorTokens: VisitorTokens;
  /** Which device kinds can be registered, and the VAPID public key (server/push/setup.ts). */
  readonly push?: Pick<PushSetup, "senders" | "vapidPublicKey" | "allowHttpEndpoints">;
}

export interface AppEnv {
  Variables: {
    member: MemberRow | undefined;
    log: Logger | undefined;
  };
}
