import { and, asc, count, desc, eq, gt, inArray, isNotNull, isNull, lte, sql, sum } from "drizzle-orm";
import type { Db } from "./client.ts";
import * as s from "./schema.ts";

/**
 * Storage of the satisfaction survey (R8.2, R13.1): the `send_csat` outbox rows the survey worker
 * claims (server/csat.ts), the surveys it creates once per close, and the customer's one answer.
 */

export const CSAT_TOPIC = "send_csat";

export type SurveyRow = typeof s.surveys.$inferSelect;

/** A `send_csat` outbox row claimed by this process until its lease runs out. */
export interface ClaimedCsat {
  readonly outboxId: number;
  readonly conversationId: string;
  /** The conversation's last seq when the close committed: with the conversation id, names the close. */
  readonly seq: number;
  readonly attempts: number;
}

/**
 * Claims up to `limit` due `send_csat` rows for `leaseMs` (`FOR UPDATE SKIP LOCKED` in one short
 * transaction: several processes share the work; a claim of a process that died is taken again
 * after the lease). The work itself runs outside any transaction (it calls the conversation's room).
 */
export async function claimCsatRows(db: Db, opts: { now: Date; leaseMs: number; limit: number }): Promise<ClaimedCsat[]> {
  const o = s.outbox;
  return db.transaction(async (tx) => {
    const rows = await tx
      .select({ id: o.id, payload: o.payload, attempts: o.attempts })
      .from(o)
      .where(and(eq(o.topic, CSAT_TOPIC), isNull(o.doneAt), lte(o.availableAt, opts.now)))
      .orderBy(asc(o.id))
      .limit(opts.limit)
      .for("update", { skipLocked: true });
    if (rows.length === 0) return [];
    await tx
      .update(o)
      .set({ availableAt: new Date(opts.now.getTime() + opts.leaseMs) })
      .where(
        inArray(
          o.id,
          rows.map((r) => r.id),
        ),
      );
    return rows.flatMap((r) =>
      r.payload.kind === "effect" ? [{ outboxId: r.id, conversationId: r.payload.conversationId, seq: r.payload.seq, attempts: r.attempts }] : [],
    );
  });
}

export async function finishCsatRow(db: Db, outboxId: number, now: Date, attempts: number): Promise<void> {
  await db.update(s.outbox).set({ doneAt: now, attempts }).where(eq(s.outbox.id, outboxId));
}

export async function retryCsatRow(db: Db, outboxId: number, at: Date, attempts: number, error: string): Promise<void> {
  await db
    .update(s.outbox)
    .set({ availableAt: at, attempts, lastError: error.slice(0, 500) })
    .where(eq(s.outbox.id, outboxId));
}

/** What a survey is created with. */
export interface NewSurvey {
  readonly id: string;
  readonly token: string;
  readonly closeKey: string;
  readonly conversationId: string;
  readonly createdAt: Date;
  readonly expiresAt: Date;
}

/**
 * The survey of one close: created on the first call, the same row on every later one (a retried
 * outbox row). Workspace and customer come from the conversation. Null when it does not exist.
 */
export async function surveyForClose(db: Db, survey: NewSurvey): Promise<SurveyRow | null> {
  const c = s.conversations;
  const conv = await db.select({ workspaceId: c.workspaceId, customerId: c.customerId }).from(c).where(eq(c.id, survey.conversationId));
  const row = conv[0];
  if (!row) return null;
  await db
    .insert(s.surveys)
    .values({ ...survey, workspaceId: row.workspaceId, customerId: row.customerId })
    .onConflictDoNothing({ target: s.surveys.closeKey });
  const [stored] = await db.select().from(s.surveys).where(eq(s.surveys.closeKey, survey.closeKey));
  return stored ?? null;
}

export async function surveyByToken(db: Db, token: string): Promise<SurveyRow | null> {
  const [row] = await db.select().from(s.surveys).where(eq(s.surveys.token, token));
  return row ?? null;
}

/**
 * Stores the answer once: only while unanswered and not expired at `now`. Returns the stored row,
 * or null when it was answered meanwhile or has expired (the caller reads why).
 */
export async function answerSurvey(db: Db, token: string, answer: { score: number; comment: string | null }, now: Date): Promise<SurveyRow | null> {
  const t = s.surveys;
  const [row] = await db
    .update(t)
    .set({ score: answer.score, comment: answer.comment, answeredAt: now })
    .where(and(eq(t.token, token), isNull(t.answeredAt), gt(t.expiresAt, now)))
    .returning();
  return row ?? null;
}

/** The conversation's newest survey (what its room shows), or null. */
export async function latestSurvey(db: Db, conversationId: string): Promise<SurveyRow | null> {
  const t = s.surveys;
  const [row] = await db.select().from(t).where(eq(t.conversationId, conversationId)).orderBy(desc(t.createdAt), desc(t.id)).limit(1);
  return row ?? null;
}

/** One answered survey as the team room lists it. */
export interface AnsweredSurvey {
  readonly surveyId: string;
  readonly conversationId: string;
  readonly customerName: string;
  readonly followerId: string | null;
  readonly score: number;
  readonly comment: string | null;
  readonly answeredAt: Date;
}

/** The workspace's answered surveys: how many, the sum of their scores, and the newest `limit`. */
export async function teamCsat(db: Db, workspaceId: string, limit: number): Promise<{ answered: number; scoreSum: number; recent: AnsweredSurvey[] }> {
  const t = s.surveys;
  const answered = and(eq(t.workspaceId, workspaceId), isNotNull(t.answeredAt));
  const [agg] = await db.select({ n: count(), total: sum(t.score) }).from(t).where(answered);
  const recent = await db
    .select({
      surveyId: t.id,
      conversationId: t.conversationId,
      customerName: s.customers.displayName,
      followerId: s.conversations.followerId,
      score: sql<number>`${t.score}`,
      comment: t.comment,
      answeredAt: sql<Date>`${t.answeredAt}`,
    })
    .from(t)
    .innerJoin(s.customers, eq(s.customers.id, t.customerId))
    .innerJoin(s.conversations, eq(s.conversations.id, t.conversationId))
    .where(answered)
    .orderBy(desc(t.answeredAt), desc(t.id))
    .limit(limit);
  return {
    answered: Number(agg?.n ?? 0),
    scoreSum: Number(agg?.total ?? 0),
    recent: recent.map((r) => ({ ...r, score: Number(r.score), answeredAt: r.answeredAt instanceof Date ? r.answeredAt : new Date(String(r.answeredAt)) })),
  };
}

/** One answered survey of `surveyId` as the team room lists it (after an answer), or null. */
export async function answeredSurvey(db: Db, surveyId: string): Promise<AnsweredSurvey | null> {
  const t = s.surveys;
  const [r] = await db
    .select({
      surveyId: t.id,
      conversationId: t.conversationId,
      customerName: s.customers.displayName,
      followerId: s.conversations.followerId,
      score: t.score,
      comment: t.comment,
      answeredAt: t.answeredAt,
    })
    .from(t)
    .innerJoin(s.customers, eq(s.customers.id, t.customerId))
    .innerJoin(s.conversations, eq(s.conversations.id, t.conversationId))
    .where(eq(t.id, surveyId));
  if (!r || r.score === null || r.answeredAt === null) return null;
  return { ...r, score: r.score, answeredAt: r.answeredAt };
}
