import type { Presence } from "@colyseus/core";
import type { Logger } from "pino";
import type { Database } from "../../db/client.ts";
import type { MemberRow } from "../../db/repository.ts";
import type { Auth } from "../auth.ts";
import type { Intake } from "../channels/intake.ts";
import type { VisitorTokens } from "../channels/webchat/visitors.ts";
import type { Metrics } from "../metrics.ts";
import type { PushSetup } from "../push/setup.ts";
import type { RateLimits } from "../rateLimit.ts";

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
  /** `/metrics`' registry and the hooks that feed it (server/metrics.ts). */
  readonly metrics: Metrics;
  /** `METRICS_TOKEN`: the bearer token of `/metrics`; undefined: /metrics answers 404. */
  readonly metricsToken: string | undefined;
  /** Sign-in and webhook rate limits (server/rateLimit.ts). */
  readonly limits: RateLimits;
  /** `TRUSTED_PROXIES`: how the client address is read (server/http/requestLog.ts). */
  readonly trustedProxies: number;
  /** Webchat visitor tokens (the `webchat` room's auth). */
  readonly visitorTokens: VisitorTokens;
  /** Which device kinds can be registered, and the VAPID public key (server/push/setup.ts). */
  readonly push?: Pick<PushSetup, "senders" | "vapidPublicKey" | "allowHttpEndpoints">;
}

export interface AppEnv {
  Variables: {
    member: MemberRow | undefined;
    log: Logger | undefined;
    /** The request's id (server/http/requestLog.ts): in the `X-Request-Id` header and every error body. */
    requestId: string | undefined;
    /** The client's address (`TRUSTED_PROXIES`); undefined for in-process calls. */
    address: string | undefined;
  };
}
