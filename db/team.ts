import { and, asc, eq, gt, isNotNull, ne, sql } from "drizzle-orm";
import type { MemberStatus, Role, Status } from "../domain/sets.ts";
import type { Db } from "./client.ts";
import { overdueCondition } from "./lists.ts";
import * as s from "./schema.ts";
import { executeRows } from "./sql.ts";

/**
 * The team dashboard's reads (rooms/TeamRoom.ts, docs/protocol.md §9): the aggregate snapshot its
 * tally starts from, the workspace's listed members and the overdue conversations.
 */

/** The snapshot a team tally starts from, read in one transaction. */
export interface TallySnapshot {
  readonly counts: readonly { status: Status; collaborative: boolean; n: number }[];
  readonly following: readonly { memberId: string; n: number }[];
  readonly collaborating: readonly { memberId: string; n: number }[];
  /** Id and version of each conversation changed after `changedSince`. */
  readonly recent: readonly { id: string; version: number }[];
}

/**
 * Counts per status and type, open loads per member (following, collaborating) and the versions of
 * the conversations changed after `changedSince`, in one repeatable-read, read-only transaction:
 * one consistent view.
 */
export async function readTallySnapshot(db: Db, workspaceId: string, changedSince: Date): Promise<TallySnapshot> {
  const c = s.conversations;
  const open = and(eq(c.workspaceId, workspaceId), ne(c.status, "closed"));
  return db.transaction(
    async (tx) => {
      const counts = await tx
        .select({ status: c.status, collaborative: c.collaborative, n: sql<number>`count(*)`.mapWith(Number) })
        .from(c)
        .where(eq(c.workspaceId, workspaceId))
        .groupBy(c.status, c.collaborative);
      const following = await tx
        .select({ memberId: sql<string>`${c.followerId}`, n: sql<number>`count(*)`.mapWith(Number) })
        .from(c)
        .where(and(open, isNotNull(c.followerId)))
        .groupBy(c.followerId);
      const collaborating = (await tx.execute(
        sql`select m as "memberId", count(*)::int as n from ${c}, unnest(${c.collaboratorIds}) as m where ${open} group by m`,
      )) as unknown;
      const recent = await tx
        .select({ id: c.id, version: c.version })
        .from(c)
        .where(and(eq(c.workspaceId, workspaceId), gt(c.updatedAt, changedSince)));
      return { counts, following, collaborating: executeRows<{ memberId: string; n: number }>(collaborating), recent };
    },
    { isolationLevel: "repeatable read", accessMode: "read only" },
  );
}

/** A member as the dashboard lists them. */
export interface TeamMember {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  readonly status: MemberStatus;
}

/** The workspace's members the dashboard lists: every one not deleted. */
export async function loadTeamMembers(db: Db, workspaceId: string): Promise<TeamMember[]> {
  const m = s.members;
  return db
    .select({ id: m.id, name: m.name, role: m.role, status: m.status })
    .from(m)
    .where(and(eq(m.workspaceId, workspaceId), ne(m.status, "deleted")));
}

/** An open conversation waiting since at or before the cutoff (R13.3). */
export interface OverdueRow {
  readonly id: string;
  readonly customerName: string;
  readonly channel: string;
  readonly status: Status;
  readonly followerId: string | null;
  readonly waitingSince: Date | null;
}

/**
 * The conversations overdue at `now` with the workspace's threshold (R13.3, the same condition as
 * the lists' `overdue`: `overdueCondition`), oldest first, at most `limit`, with how many in all.
 */
export async function loadOverdue(
  db: Db,
  workspaceId: string,
  now: Date,
  overdueAfterMinutes: number,
  limit: number,
): Promise<{ rows: OverdueRow[]; total: number }> {
  const c = s.conversations;
  const rows = await db
    .select({
      id: c.id,
      customerName: s.customers.displayName,
      channel: c.channel,
      status: c.status,
      followerId: c.followerId,
      waitingSince: c.waitingSince,
      total: sql<number>`count(*) over ()`.mapWith(Number),
    })
    .from(c)
    .innerJoin(s.customers, eq(s.customers.id, c.customerId))
    .where(and(eq(c.workspaceId, workspaceId), overdueCondition(now, overdueAfterMinutes)))
    .orderBy(asc(c.waitingSince), asc(c.id))
    .limit(limit);
  return { rows, total: rows[0]?.total ?? 0 };
}
