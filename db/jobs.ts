import { and, asc, eq, isNull, lt, or, sql } from "drizzle-orm";
import type { ConversationKind } from "../domain/sets.ts";
import type { Db, Tx } from "./client.ts";
import { mineCondition } from "./lists.ts";
import * as s from "./schema.ts";
import { executeRows } from "./sql.ts";
import type { JobKind, JobOutcome, JobStatus } from "../domain/jobs.ts";

/**
 * Storage of jobs (bulk actions, member deactivation): a job row and one item row per
 * conversation, in order. Invariants:
 * - a job and all its items are written in one transaction, the items in one statement;
 * - an item's outcome is written once (a later write of the same item changes nothing);
 * - `processed` counts the items whose outcome is written;
 * - a running job is worked on by the process holding its lease (`lease_until` in the future);
 *   once the lease runs out any process may claim it (`FOR UPDATE SKIP LOCKED`).
 */

export type JobRow = typeof s.jobs.$inferSelect;

/** What clients see of a job (HTTP answers and the inbox room's `job` message). */
export interface JobView {
  readonly id: string;
  readonly kind: JobKind;
  readonly status: JobStatus;
  readonly total: number;
  readonly processed: number;
  readonly createdAt: string;
  readonly finishedAt: string | null;
}

export function jobView(j: Pick<JobRow, "id" | "kind" | "status" | "total" | "processed" | "createdAt" | "finishedAt">): JobView {
  return {
    id: j.id,
    kind: j.kind,
    status: j.status,
    total: j.total,
    processed: j.processed,
    createdAt: j.createdAt.toISOString(),
    finishedAt: j.finishedAt ? j.finishedAt.toISOString() : null,
  };
}

export interface NewJob {
  readonly id: string;
  readonly workspaceId: string;
  readonly actorId: string | null;
  readonly kind: JobKind;
  readonly input: Record<string, unknown>;
  readonly idempotencyKey?: string | null;
  readonly requestHash?: string | null;
  readonly now: Date;
}

/**
 * Inserts the job row (total 0 until its items are added). Returns false when the actor already
 * has a job with this idempotency key (nothing written).
 */
export async function insertJob(tx: Tx, job: NewJob): Promise<boolean> {
  const rows = await tx
    .insert(s.jobs)
    .values({
      id: job.id,
      workspaceId: job.workspaceId,
      actorId: job.actorId,
      kind: job.kind,
      input: job.input,
      idempotencyKey: job.idempotencyKey ?? null,
      requestHash: job.requestHash ?? null,
      status: "running",
      total: 0,
      processed: 0,
      createdAt: job.now,
      updatedAt: job.now,
    })
    .onConflictDoNothing()
    .returning({ id: s.jobs.id });
  return rows.length > 0;
}

/**
 * Creates a job and its items (one per conversation id, in order) in one transaction. Returns the
 * job as stored, or null when the actor already has a job with this idempotency key (nothing written).
 */
export async function createJobWithItems(db: Db, job: NewJob, conversationIds: readonly string[]): Promise<JobRow | null> {
  return db.transaction(async (tx) => {
    if (!(await insertJob(tx, job))) return null;
    await insertItemsFromIds(tx, job.id, conversationIds);
    return loadJob(tx, job.id);
  });
}

/** Adds one item per conversation id, in the order given, in one statement; sets the job's total. */
export async function insertItemsFromIds(tx: Tx, jobId: string, conversationIds: readonly string[]): Promise<number> {
  if (conversationIds.length > 0) {
    await tx.execute(sql`
      insert into ${s.jobItems} (job_id, idx, conversation_id)
      select ${jobId}, (t.ord - 1)::int, t.id
      from unnest(${sql.param([...conversationIds])}::text[]) with ordinality as t(id, ord)`);
  }
  await tx.update(s.jobs).set({ total: conversationIds.length }).where(eq(s.jobs.id, jobId));
  return conversationIds.length;
}

/**
 * Adds one item per conversation of the workspace where the member is the follower or a
 * collaborator (oldest first), in one statement; sets the job's total and returns it.
 */
export async function insertItemsForMember(tx: Tx, jobId: string, workspaceId: string, memberId: string): Promise<number> {
  const c = s.conversations;
  await tx.execute(sql`
    insert into ${s.jobItems} (job_id, idx, conversation_id)
    select ${jobId}, (row_number() over (order by ${c.createdAt}, ${c.id}) - 1)::int, ${c.id}
    from ${c}
    where ${c.workspaceId} = ${workspaceId}
      and ${mineCondition(memberId)}`);
  const [row] = await tx
    .select({ n: sql<number>`count(*)::int` })
    .from(s.jobItems)
    .where(eq(s.jobItems.jobId, jobId));
  const total = row?.n ?? 0;
  await tx.update(s.jobs).set({ total }).where(eq(s.jobs.id, jobId));
  return total;
}

export async function loadJob(db: Db | Tx, id: string): Promise<JobRow | null> {
  const rows = await db.select().from(s.jobs).where(eq(s.jobs.id, id));
  return rows[0] ?? null;
}

export async function findJobByKey(db: Db | Tx, actorId: string, key: string): Promise<JobRow | null> {
  const rows = await db
    .select()
    .from(s.jobs)
    .where(and(eq(s.jobs.actorId, actorId), eq(s.jobs.idempotencyKey, key)));
  return rows[0] ?? null;
}

export interface StoredItem {
  readonly idx: number;
  readonly conversationId: string;
  readonly outcome: JobOutcome | null;
  readonly code: string | null;
}

export async function loadItems(db: Db | Tx, jobId: string): Promise<StoredItem[]> {
  return db
    .select({ idx: s.jobItems.idx, conversationId: s.jobItems.conversationId, outcome: s.jobItems.outcome, code: s.jobItems.code })
    .from(s.jobItems)
    .where(eq(s.jobItems.jobId, jobId))
    .orderBy(asc(s.jobItems.idx));
}

/** An item still to do, with its conversation as stored now (null when not in the job's workspace). */
export interface PendingItem {
  readonly idx: number;
  readonly conversationId: string;
  readonly conversation: {
    readonly kind: ConversationKind;
    readonly followerId: string | null;
    readonly collaboratorIds: readonly string[];
  } | null;
}

/** The next items without an outcome, in order. */
export async function nextItems(db: Db, job: Pick<JobRow, "id" | "workspaceId">, limit: number): Promise<PendingItem[]> {
  const c = s.conversations;
  const rows = await db
    .select({
      idx: s.jobItems.idx,
      conversationId: s.jobItems.conversationId,
      found: c.id,
      kind: c.kind,
      followerId: c.followerId,
      collaboratorIds: c.collaboratorIds,
    })
    .from(s.jobItems)
    .leftJoin(c, and(eq(c.id, s.jobItems.conversationId), eq(c.workspaceId, job.workspaceId)))
    .where(and(eq(s.jobItems.jobId, job.id), isNull(s.jobItems.outcome)))
    .orderBy(asc(s.jobItems.idx))
    .limit(limit);
  return rows.map((r) => ({
    idx: r.idx,
    conversationId: r.conversationId,
    conversation: r.found ? { kind: r.kind ?? "direct", followerId: r.followerId ?? null, collaboratorIds: r.collaboratorIds ?? [] } : null,
  }));
}

export interface Outcome {
  readonly idx: number;
  readonly outcome: JobOutcome;
  readonly code: string | null;
}

/**
 * Writes outcomes (items that already have one are left as they are), counts them into
 * `processed` and extends the lease, in one transaction. Returns the job as stored after it.
 */
export async function recordOutcomes(db: Db, jobId: string, outcomes: readonly Outcome[], now: Date, leaseUntil: Date): Promise<JobRow> {
  return db.transaction(async (tx) => {
    let written = 0;
    if (outcomes.length > 0) {
      const rows = await tx.execute(sql`
        update ${s.jobItems} set outcome = v.outcome, code = v.code, finished_at = ${now.toISOString()}::timestamptz
        from unnest(${sql.param(outcomes.map((o) => o.idx))}::int[], ${sql.param(outcomes.map((o) => o.outcome))}::text[],
                    ${sql.param(outcomes.map((o) => o.code))}::text[]) as v(idx, outcome, code)
        where ${s.jobItems.jobId} = ${jobId} and ${s.jobItems.idx} = v.idx and ${s.jobItems.outcome} is null
        returning 1`);
      written = executeRows(rows).length;
    }
    const [job] = await tx
      .update(s.jobs)
      .set({ processed: sql`${s.jobs.processed} + ${written}`, leaseUntil, updatedAt: now })
      .where(eq(s.jobs.id, jobId))
      .returning();
    if (!job) throw new Error(`job ${jobId} vanished`);
    return job;
  });
}

/** Ends a job: done (every item has its outcome) or failed; the lease is given back. */
export async function finishJob(db: Db, jobId: string, status: "done" | "failed", now: Date, error?: string): Promise<JobRow> {
  const [job] = await db
    .update(s.jobs)
    .set({ status, error: error ?? null, finishedAt: now, leaseUntil: null, updatedAt: now })
    .where(eq(s.jobs.id, jobId))
    .returning();
  if (!job) throw new Error(`job ${jobId} vanished`);
  return job;
}

/**
 * Claims the oldest running job whose lease is empty or ran out, holding it until `leaseUntil`.
 * Rows another process is claiming right now are skipped, so any number of processes may call it.
 */
export async function claimJob(db: Db, now: Date, leaseUntil: Date): Promise<JobRow | null> {
  return db.transaction(async (tx) => {
    const [candidate] = await tx
      .select({ id: s.jobs.id })
      .from(s.jobs)
      .where(and(eq(s.jobs.status, "running"), or(isNull(s.jobs.leaseUntil), lt(s.jobs.leaseUntil, now))))
      .orderBy(asc(s.jobs.createdAt), asc(s.jobs.id))
      .limit(1)
      .for("update", { skipLocked: true });
    if (!candidate) return null;
    const [job] = await tx.update(s.jobs).set({ leaseUntil, updatedAt: now }).where(eq(s.jobs.id, candidate.id)).returning();
    return job ?? null;
  });
}

/** Extends (or, with null, gives back) the lease of a job still running. */
export async function setLease(db: Db, jobId: string, leaseUntil: Date | null): Promise<void> {
  await db
    .update(s.jobs)
    .set({ leaseUntil })
    .where(and(eq(s.jobs.id, jobId), eq(s.jobs.status, "running")));
}
