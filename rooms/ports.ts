import type { Presence } from "@colyseus/core";
import type { Logger } from "pino";
import type { Db } from "../db/client.ts";
import type { MemberRow } from "../db/repository.ts";
import type { MessagePart } from "../domain/channels.ts";
import type { RevocationHub } from "./revocations.ts";

/** What rooms need to know who a token speaks for; `server/auth.ts` implements it. */
export interface AuthPort {
  /** The member a token speaks for, or a `DomainError` (UNAUTHENTICATED, TOKEN_EXPIRED, MEMBER_INACTIVE). */
  verifyAccess(token: string | undefined | null): Promise<MemberRow>;
}

/** Where rooms report how their requests went (server/metrics.ts implements it). */
export interface RoomMetrics {
  /** Called when a request arrives; the returned function is called with its one answer. */
  roomRequest(type: string | number, origin: "client" | "server"): (answer: { ok: boolean; code?: string }) => void;
}

/** The rooms' rate limit: a member's messages per window (server/rateLimit.ts implements it). */
export interface RoomLimits {
  /** Counts one message of `memberId`: null when allowed, else how long until it would be (ms). */
  roomAction(memberId: string): Promise<number | null>;
}

/** A Webchat visitor, as their visitor token says (server/channels/webchat/visitors.ts). */
export interface VisitorIdentity {
  readonly visitorId: string;
  readonly channelId: string;
  readonly workspaceId: string;
  /** The name staff see for them. */
  readonly name: string;
}

/** A message as a Webchat visitor sees it (docs/protocol.md §7.15). */
export interface VisitorMessage {
  readonly conversationId: string;
  readonly seq: number;
  readonly from: "customer" | "staff";
  readonly text: string;
  readonly parts?: readonly MessagePart[];
  /** ISO 8601. */
  readonly at: string;
}

/** What the `webchat` room needs: who a visitor token is, their history, and taking their message in. */
export interface WebchatPort {
  /** The visitor a token speaks for, or a `DomainError` (UNAUTHENTICATED, TOKEN_EXPIRED). */
  verify(token: string | null | undefined): Promise<VisitorIdentity>;
  history(visitor: VisitorIdentity): Promise<VisitorMessage[]>;
  /** Stores and applies the visitor's message (idempotent on `requestId`); a refusal is a `DomainError`. */
  say(visitor: VisitorIdentity, requestId: string, text: string): Promise<{ conversationId: string; seq: number | null; duplicate: boolean }>;
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
  /** `PUSH_COALESCE_SECONDS` in ms: a commit folds a customer message's push into a batch due this much later (db/commit.ts). */
  readonly pushWindowMs: number;
  readonly now: () => Date;
  /** Members whose rights changed, for rooms to close or re-check their connections. */
  readonly revocations: RevocationHub;
  readonly metrics: RoomMetrics;
  readonly limits: RoomLimits;
  /** The Webchat visitor side, for the `webchat` room. */
  readonly webchat: WebchatPort;
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
