import { randomUUID } from "node:crypto";
import type { Presence } from "@colyseus/core";
import { and, asc, eq, ilike, isNull, or, sql } from "drizzle-orm";
import type { Db, Tx } from "../db/client.ts";
import { type JobView, insertItemsForMember, insertJob, jobView, loadJob } from "../db/jobs.ts";
import * as s from "../db/schema.ts";
import { likeSubstring } from "../db/sql.ts";
import { DomainError, ErrorCode } from "../domain/errors.ts";
import type { Locale, MemberStatus, Role } from "../domain/sets.ts";
import { Topic } from "../rooms/topics.ts";
import { Auth } from "./auth.ts";

/**
 * Member administration (SPEC §14): the service behind `/api/v2/members`, usable on its own.
 * Every change publishes `{ type: "member", memberId }` on the workspace's team topic and
 * `{ type: "member" }` on the member's inbox topic, so live rooms reload that member.
 */

export interface MemberDeps {
  readonly db: Db;
  readonly presence: Presence;
  readonly now: () => Date;
  /** Asks the job runner to start now (it also polls); omit to leave it to the poll. */
  readonly kickJobs?: () => void;
}

/** A member as administration shows it. */
export interface MemberJson {
  readonly id: string;
  readonly name: string;
  readonly email: string;
  readonly phone: string | null;
  readonly role: Role;
  readonly status: MemberStatus;
  readonly locale: Locale;
  readonly createdAt: string;
  readonly updatedAt: string;
}

type MemberRecord = typeof s.members.$inferSelect;

function memberJson(m: MemberRecord): MemberJson {
  return {
    id: m.id,
    name: m.name,
    email: m.email,
    phone: m.phone ?? null,
    role: m.role,
    status: m.status,
    locale: m.locale,
    createdAt: m.createdAt.toISOString(),
    updatedAt: m.updatedAt.toISOString(),
  };
}

/** Tells live rooms (team room, the member's inbox and conversations) to reload the member. */
export async function publishMemberChanged(presence: Presence, workspaceId: string, memberId: string): Promise<void> {
  await presence.publish(Topic.team(workspaceId), { type: "member", memberId });
  await presence.publish(Topic.inbox(memberId), { type: "member" });
}

export async function listMembers(
  db: Db,
  workspaceId: string,
  filter: { status?: MemberStatus; role?: Role; q?: string },
): Promise<MemberJson[]> {
  const m = s.members;
  const pattern = filter.q ? likeSubstring(filter.q) : null;
  const rows = await db
    .select()
    .from(m)
    .where(
      and(
        eq(m.workspaceId, workspaceId),
        filter.status ? eq(m.status, filter.status) : undefined,
        filter.role ? eq(m.role, filter.role) : undefined,
        pattern ? or(ilike(m.name, pattern), ilike(m.email, pattern), ilike(m.phone, pattern)) : undefined,
      ),
    )
    .orderBy(asc(m.name), asc(m.id));
  return rows.map(memberJson);
}

/** A member of the workspace (any status), or NOT_FOUND. */
async function memberOf(db: Db | Tx, workspaceId: string, id: string, lock = false): Promise<MemberRecord> {
  const q = db
    .select()
    .from(s.members)
    .where(and(eq(s.members.id, id), eq(s.members.workspaceId, workspaceId)));
  const rows = lock ? await q.for("update") : await q;
  const m = rows[0];
  if (!m) throw new DomainError(ErrorCode.NOT_FOUND);
  return m;
}

export async function getMember(db: Db, workspaceId: string, id: string): Promise<MemberJson> {
  return memberJson(await memberOf(db, workspaceId, id));
}

function isUniqueViolation(e: unknown): boolean {
  for (let cur: any = e; cur; cur = cur.cause) {
    if (cur.code === "23505") return true;
  }
  return false;
}

async function emailTaken(db: Db | Tx, email: string): Promise<boolean> {
  const rows = await db
    .select({ id: s.members.id })
    .from(s.members)
    .where(sql`lower(${s.members.email}) = ${email}`);
  return rows.length > 0;
}

export interface NewMember {
  readonly name: string;
  readonly email: string;
  readonly phone?: string | null;
  readonly role: Role;
  readonly locale?: Locale;
  readonly password: string;
}

/** Creates an active member; emails are unique case-insensitively across all workspaces (EMAIL_TAKEN). */
export async function createMember(deps: MemberDeps, workspaceId: string, input: NewMember): Promise<MemberJson> {
  const email = input.email.trim().toLowerCase();
  if (await emailTaken(deps.db, email)) throw new DomainError(ErrorCode.EMAIL_TAKEN);
  const passwordHash = await Auth.hashPassword(input.password);
  const now = deps.now();
  let row: MemberRecord | undefined;
  try {
    [row] = await deps.db
      .insert(s.members)
      .values({
        id: randomUUID(),
        workspaceId,
        name: input.name,
        email,
        phone: input.phone ?? null,
        role: input.role,
        locale: input.locale ?? "zh-TW",
        status: "active",
        passwordHash,
        createdAt: now,
        updatedAt: now,
      })
      .returning();
  } catch (e) {
    if (isUniqueViolation(e)) throw new DomainError(ErrorCode.EMAIL_TAKEN);
    throw e;
  }
  if (!row) throw new Error("member not created");
  await publishMemberChanged(deps.presence, workspaceId, row.id);
  return memberJson(row);
}

export interface MemberPatch {
  readonly name?: string;
  readonly phone?: string | null;
  readonly role?: Role;
  readonly locale?: Locale;
}

/**
 * Changes name, phone, role or locale. A role change applies to every request the member makes
 * from now on (tokens carry no rights: each request reads the member) and to live rooms once they
 * reload the member. An admin cannot change their own role (CANNOT_CHANGE_SELF); a deleted
 * member cannot be changed (MEMBER_DELETED).
 */
export async function updateMember(deps: MemberDeps, actor: { id: string; workspaceId: string }, id: string, patch: MemberPatch): Promise<MemberJson> {
  const row = await deps.db.transaction(async (tx) => {
    const m = await memberOf(tx, actor.workspaceId, id, true);
    if (m.status === "deleted") throw new DomainError(ErrorCode.MEMBER_DELETED);
    if (patch.role !== undefined && patch.role !== m.role && m.id === actor.id) throw new DomainError(ErrorCode.CANNOT_CHANGE_SELF);
    const set: Partial<typeof s.members.$inferInsert> = { updatedAt: deps.now() };
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.phone !== undefined) set.phone = patch.phone;
    if (patch.role !== undefined) set.role = patch.role;
    if (patch.locale !== undefined) set.locale = patch.locale;
    const [updated] = await tx.update(s.members).set(set).where(eq(s.members.id, id)).returning();
    return updated!;
  });
  await publishMemberChanged(deps.presence, row.workspaceId, row.id);
  return memberJson(row);
}

/**
 * Deactivates (or deletes) a member, SPEC §14. In one transaction: the status is set, the token
 * version bumped (every access token stops working), refresh tokens revoked, and a job created
 * whose items are every conversation where the member is the follower or a collaborator. After
 * commit their connections are closed (`Topic.revoked`) and the job runner sends each conversation
 * through its room's `member_departed` path (R14.1–R14.5).
 *
 * `workspaceId` scopes the lookup (administration acts in its own workspace); `actorId` is the
 * admin (null: the system), shown in the R14.2 log line. Deleted members cannot be changed
 * (MEMBER_DELETED); an admin cannot deactivate themselves (CANNOT_CHANGE_SELF).
 */
export async function deactivateMember(
  deps: MemberDeps,
  input: { actorId: string | null; memberId: string; status: "deactivated" | "deleted"; workspaceId?: string },
): Promise<{ job: JobView }> {
  const { db, now } = deps;
  if (input.actorId && input.actorId === input.memberId) throw new DomainError(ErrorCode.CANNOT_CHANGE_SELF);
  const { job, workspaceId } = await db.transaction(async (tx) => {
    const rows = await tx
      .select()
      .from(s.members)
      .where(and(eq(s.members.id, input.memberId), input.workspaceId ? eq(s.members.workspaceId, input.workspaceId) : undefined))
      .for("update");
    const m = rows[0];
    if (!m) throw new DomainError(ErrorCode.NOT_FOUND);
    if (m.status === "deleted") throw new DomainError(ErrorCode.MEMBER_DELETED);
    const at = now();
    await tx
      .update(s.members)
      .set({ status: input.status, tokenVersion: sql`${s.members.tokenVersion} + 1`, updatedAt: at })
      .where(eq(s.members.id, m.id));
    await tx
      .update(s.refreshTokens)
      .set({ revokedAt: at })
      .where(and(eq(s.refreshTokens.memberId, m.id), isNull(s.refreshTokens.revokedAt)));
    const jobId = randomUUID();
    await insertJob(tx, {
      id: jobId,
      workspaceId: m.workspaceId,
      actorId: input.actorId,
      kind: input.status === "deleted" ? "member_delete" : "member_deactivate",
      input: { memberId: m.id },
      now: at,
    });
    await insertItemsForMember(tx, jobId, m.workspaceId, m.id);
    return { job: (await loadJob(tx, jobId))!, workspaceId: m.workspaceId };
  });
  await deps.presence.publish(Topic.revoked, { memberId: input.memberId });
  await publishMemberChanged(deps.presence, workspaceId, input.memberId);
  deps.kickJobs?.();
  return { job: jobView(job) };
}

/**
 * Makes a deactivated member active again. Their tokens stay revoked: they sign in again. Their
 * conversations are not given back (the departure was applied). A deleted member cannot come
 * back (MEMBER_DELETED).
 */
export async function reactivateMember(deps: MemberDeps, actor: { id: string; workspaceId: string }, id: string): Promise<MemberJson> {
  if (actor.id === id) throw new DomainError(ErrorCode.CANNOT_CHANGE_SELF);
  const { row, changed } = await deps.db.transaction(async (tx) => {
    const m = await memberOf(tx, actor.workspaceId, id, true);
    if (m.status === "deleted") throw new DomainError(ErrorCode.MEMBER_DELETED);
    if (m.status === "active") return { row: m, changed: false };
    const [updated] = await tx.update(s.members).set({ status: "active", updatedAt: deps.now() }).where(eq(s.members.id, id)).returning();
    return { row: updated!, changed: true };
  });
  if (changed) await publishMemberChanged(deps.presence, row.workspaceId, row.id);
  return memberJson(row);
}
