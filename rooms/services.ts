import type { Presence } from "@colyseus/core";
import type { Logger } from "pino";
import type { Db } from "../db/client.ts";
import type { Auth } from "../server/auth.ts";
import type { RevocationHub } from "./revocations.ts";

/** What rooms need from the composition root. Colyseus constructs rooms itself, so they reach it here. */
export interface Services {
  readonly db: Db;
  readonly auth: Auth;
  readonly log: Logger;
  readonly presence: Presence;
  /** Asks the outbox dispatcher to run now (it also runs on a timer). */
  readonly kickOutbox: () => void;
  readonly now: () => Date;
  /** Revoked members, for rooms to close their connections. */
  readonly revocations: RevocationHub;
}

let current: Services | null = null;

export function setServices(s: Services | null): void {
  current = s;
}

export function services(): Services {
  if (!current) throw new Error("services are not set: start the server through server/app.ts");
  return current;
}

/** Presence topics. */
export const Topic = {
  /** A member's notices: `inbox:<memberId>`. */
  inbox: (memberId: string) => `inbox:${memberId}`,
  /** Every change of the workspace's conversations (`ConversationChange`) and members' presence. */
  team: (workspaceId: string) => `team:${workspaceId}`,
  /** A member whose connections must all close (deactivated): payload `{ memberId }`. */
  revoked: "members:revoked",
} as const;

/** Close codes of the conversation and inbox rooms; see docs/protocol.md. */
export const CloseCode = {
  removed: 4101,
  left: 4102,
  closed: 4103,
  deactivated: 4104,
  noLongerParticipant: 4105,
} as const;
