import type { Presence } from "@colyseus/core";
import type { Logger } from "pino";
import type { Db } from "../db/client.ts";
import type { MemberRow } from "../db/repository.ts";
import type { RevocationHub } from "./revocations.ts";

/** What rooms need to know who a token speaks for; `server/auth.ts` implements it. */
export interface AuthPort {
  /** The member a token speaks for, or a `DomainError` (UNAUTHENTICATED, TOKEN_EXPIRED, MEMBER_INACTIVE). */
  verifyAccess(token: string | undefined | null): Promise<MemberRow>;
}

/** What rooms need from the composition root. Colyseus constructs rooms itself, so they reach it here. */
export interface Services {
  readonly db: Db;
  readonly auth: AuthPort;
  readonly log: Logger;
  readonly presence: Presence;
  /**
   * Tells the outbox's workers that rows of these topics were committed: the ones that deliver
   * one of them run now (they also run on a timer); the others are not woken.
   */
  readonly kickOutbox: (topics: readonly string[]) => void;
  readonly now: () => Date;
  /** Members whose rights changed, for rooms to close or re-check their connections. */
  readonly revocations: RevocationHub;
}

let current: Services | null = null;

/** Set once by the composition root (`server/app.ts`), cleared at stop. */
export function setServices(s: Services | null): void {
  current = s;
}

export function services(): Services {
  if (!current) throw new Error("services are not set: start the server through server/app.ts");
  return current;
}
