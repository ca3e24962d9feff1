import type { Logger } from "pino";
import type { Db } from "../db/client.ts";
import { type ClaimedTimer, claimDueTimers, dropTimer, retryTimer } from "../db/timers.ts";
import { ErrorCode } from "../domain/errors.ts";
import { TimerKind } from "../domain/timers.ts";
import type { Answer } from "../rooms/protocol.ts";
import { DrainLoop } from "./drainLoop.ts";
import { retryDelayMs } from "./outbox.ts";
import { callConversation } from "./roomCalls.ts";

/**
 * The scheduler (issue 11, item 3): fires durable timers (db/timers.ts) through their
 * conversation's room, as system actions decided by the same rules as any action (R13.4's
 * reminder and close). Several processes may run it: a timer is claimed with `FOR UPDATE SKIP
 * LOCKED` and a lease. A timer due while no process ran fires at the next start. The firing's
 * commit removes the timer only while it is still armed and due (db/commit.ts `consumeTimer`), so
 * a customer reply or a staff reply committed just before wins, and a firing run twice (a lease
 * that ran out mid-call) closes once.
 */

export interface SchedulerOptions {
  readonly db: Db;
  readonly log: Logger;
  readonly now: () => Date;
  readonly leaseMs: number;
  readonly pollMs: number;
  /** How a timer reaches its room (default: the room wherever it lives, server/roomCalls.ts). */
  readonly call?: typeof callConversation;
}

/** Room answers that mean "try again later". */
const TRANSIENT: ReadonlySet<string> = new Set([ErrorCode.STORAGE_UNAVAILABLE, ErrorCode.SERVICE_UNAVAILABLE, ErrorCode.INTERNAL, ErrorCode.VERSION_CONFLICT]);
/** A timer that cannot reach its room this many times is given up (logged). */
const MAX_ATTEMPTS = 30;
const BATCH = 32;
/** How many timers fire at once (different conversations: their rooms work in parallel). */
const PARALLEL = 8;

export class Scheduler {
  private readonly loop = new DrainLoop(
    () => this.drainAll(),
    (err) => this.opts.log.error({ err }, "scheduler drain failed"),
  );

  constructor(private readonly opts: SchedulerOptions) {}

  start(): void {
    this.loop.start(this.opts.pollMs);
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** Looks for due timers now (tests move the clock, then kick). */
  kick(): void {
    this.loop.kick();
  }

  /** Fires every due timer; resolves with how many were claimed. */
  async drainAll(): Promise<number> {
    let total = 0;
    for (;;) {
      if (this.loop.stopped) return total;
      const claims = await claimDueTimers(this.opts.db, { now: this.opts.now(), leaseMs: this.opts.leaseMs, limit: BATCH });
      total += claims.length;
      for (let i = 0; i < claims.length; i += PARALLEL) await Promise.all(claims.slice(i, i + PARALLEL).map((c) => this.fire(c)));
      if (claims.length < BATCH) return total;
    }
  }

  private async fire(claim: ClaimedTimer): Promise<void> {
    const { db, log } = this.opts;
    const action = claim.kind === TimerKind.auto_close_reminder ? "auto_close_remind" : "auto_close";
    // The same request id for every attempt of this arming: the room's answer to a retry is a duplicate.
    const requestId = `timer:${claim.kind}:${claim.dueAt.getTime()}`;
    let answer: Answer;
    try {
      answer = await (this.opts.call ?? callConversation)(claim.conversationId, { type: "timer", requestId, action });
    } catch (err) {
      return this.later(claim, `room not reached: ${String((err as Error)?.message ?? err)}`, err);
    }
    if (answer.ok) {
      // Committed (the commit removed the timer), or not due any more (cleared or moved since: its
      // row is gone or holds another due time, and this claim's retry touches neither; a clock a
      // little behind the claim's retries shortly).
      if (answer.duplicate) await retryTimer(db, claim, new Date(this.opts.now().getTime() + 1000), "not due at commit");
      return;
    }
    if (TRANSIENT.has(answer.code)) return this.later(claim, answer.code);
    log.info({ conversationId: claim.conversationId, kind: claim.kind, code: answer.code }, "timer refused by its room: dropped");
    await dropTimer(db, claim);
  }

  private async later(claim: ClaimedTimer, error: string, err?: unknown): Promise<void> {
    const { db, log } = this.opts;
    if (claim.attempts >= MAX_ATTEMPTS) {
      log.error({ err, conversationId: claim.conversationId, kind: claim.kind, error }, "timer given up after repeated failures");
      await dropTimer(db, claim);
      return;
    }
    log.warn({ err, conversationId: claim.conversationId, kind: claim.kind, error }, "timer not fired; will retry");
    await retryTimer(db, claim, new Date(this.opts.now().getTime() + retryDelayMs(claim.attempts)), error);
  }
}
