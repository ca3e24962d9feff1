import { and, eq, isNull, lt, lte, or, sql } from "drizzle-orm";
import type { TimerKind } from "../domain/timers.ts";
import type { Db } from "./client.ts";
import * as s from "./schema.ts";

/**
 * Durable timers (issue 11): the scheduler's claims and their outcomes. Timers are set and cleared
 * by the commit of the action that changes them (db/commit.ts); here they are only claimed, given
 * back for a retry, or dropped.
 */

export interface ClaimedTimer {
  readonly conversationId: string;
  readonly kind: TimerKind;
  /** The due time claimed: an outcome applies only to this arming of the timer, not to a later one. */
  readonly dueAt: Date;
  readonly attempts: number;
}

/**
 * Claims up to `limit` due timers whose lease (if any) has run out, oldest due first, for `leaseMs`
 * (`FOR UPDATE SKIP LOCKED`: several processes share the work, each timer runs in one at a time).
 */
export async function claimDueTimers(db: Db, opts: { now: Date; leaseMs: number; limit: number }): Promise<ClaimedTimer[]> {
  const t = s.timers;
  const leaseUntil = new Date(opts.now.getTime() + opts.leaseMs);
  return db.transaction(async (tx) => {
    const rows = await tx
      .select({ conversationId: t.conversationId, kind: t.kind, dueAt: t.dueAt, attempts: t.attempts })
      .from(t)
      .where(and(lte(t.dueAt, opts.now), or(isNull(t.leaseUntil), lt(t.leaseUntil, opts.now))))
      .orderBy(t.dueAt)
      .limit(opts.limit)
      .for("update", { skipLocked: true });
    for (const r of rows) {
      await tx
        .update(t)
        .set({ leaseUntil, attempts: sql`${t.attempts} + 1` })
        .where(and(eq(t.conversationId, r.conversationId), eq(t.kind, r.kind)));
    }
    return rows;
  });
}

const same = (c: ClaimedTimer) => and(eq(s.timers.conversationId, c.conversationId), eq(s.timers.kind, c.kind), eq(s.timers.dueAt, c.dueAt));

/** The firing failed for now: try again after `retryAt` (the claimed arming only). */
export async function retryTimer(db: Db, claim: ClaimedTimer, retryAt: Date, error: string): Promise<void> {
  await db.update(s.timers).set({ leaseUntil: retryAt, lastError: error.slice(0, 500) }).where(same(claim));
}

/** The firing was refused for good (the conversation is closed, gone …): the claimed arming goes. */
export async function dropTimer(db: Db, claim: ClaimedTimer): Promise<void> {
  await db.delete(s.timers).where(same(claim));
}

/** A conversation's timers (tests, the console). */
export function timersOf(db: Db, conversationId: string) {
  const t = s.timers;
  return db.select({ kind: t.kind, dueAt: t.dueAt, leaseUntil: t.leaseUntil, attempts: t.attempts }).from(t).where(eq(t.conversationId, conversationId)).orderBy(t.kind);
}
