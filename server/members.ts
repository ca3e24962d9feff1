import { randomUUID } from "node:crypto";
import type { Presence } from "@colyseus/core";
import type { Db, Tx } from "../db/client.ts";
import { type JobView, insertItemsForMember, insertJob, jobView, loadJob } from "../db/jobs.ts";
import {
  type MemberChanges,
  type MemberRecord,
  emailTaken,
  findMemberRecord,
  insertMember,
  listMemberRecords,
  markMemberDeparted,
  updateMemberRecord,
} from "../db/members.ts";
import { DomainError, ErrorCode } from "../domain/errors.ts";
import type { Locale, MemberStatus, Role } from "../domain/sets.ts";
import { publishMemberChange } from "../rooms/revocations.ts";
import { Topic } from "../rooms/topics.ts";
import { Auth } from "./auth.ts";

/**
 * Member administration (SPEC §14): the service behind `/api/v2/members`, usable on its own.
 * Every change publishes `{ type: "member", memberId }` on the workspace's team topic and
 * `{ type: "member" }` on the member's inbox topic, so live rooms reload that member; a change of
 * what the member may do (a new role, a deactivation) is also published as a `MemberChange`
 * (rooms/revocations.ts), so every room the member has open, in any process, applies it at once.
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
  return (await listMemberRecords(db, workspaceId, filter)).map(memberJson);
}

/** A member of the workspace (any status), or NOT_FOUND. */
async function memberOf(db: Db | Tx, workspaceId: string, id: string, lock = false): Promise<MemberRecord> {
  const m = await findMemberRecord(db, id, { workspaceId, lock });
  if (!m) throw new DomainError(ErrorCode.NOT_FOUND);
  return m;
}

export async function getMember(db: Db, workspaceId: string, id: string): Promise<MemberJson> {
  return memberJson(await memberOf(db, workspaceId, id));
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
  const row = await insertMember(deps.db, {
    id: randomUUID(),
    workspaceId,
    name: input.name,
    email,
    phone: input.phone ?? null,
    role: input.role,
    locale: input.locale ?? "zh-TW",
    passwordHash,
    at: now,
  });
  // Null: the unique index refused the email (another request took it since the check above).
  if (!row) throw new DomainError(ErrorCode.EMAIL_TAKEN);
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
 * from now on (tokens carry no rights: each request reads the member) and, published after
 * commit as a `MemberChange`, to every room the member has open: their next action there is
 * decided with the new role, and views the role no longer opens close (docs/protocol.md §2.6).
 * An admin cannot change their own role (CANNOT_CHANGE_SELF); a deleted member cannot be changed
 * (MEMBER_DELETED).
 */
export async function updateMember(deps: MemberDeps, actor: { id: string; workspaceId: string }, id: string, patch: MemberPatch): Promise<MemberJson> {
  const { row, roleChanged } = await deps.db.transaction(async (tx) => {
    const m = await memberOf(tx, actor.workspaceId, id, true);
    if (m.status === "deleted") throw new DomainError(ErrorCode.MEMBER_DELETED);
    const roleChanged = patch.role !== undefined && patch.role !== m.role;
    if (roleChanged && m.id === actor.id) throw new DomainError(ErrorCode.CANNOT_CHANGE_SELF);
    const set: MemberChanges = {
      updatedAt: deps.now(),
      ...(patch.name !== undefined ? { name: patch.name } : {}),
      ...(patch.phone !== undefined ? { phone: patch.phone } : {}),
      ...(patch.role !== undefined ? { role: patch.role } : {}),
      ...(patch.locale !== undefined ? { locale: patch.locale } : {}),
    };
    return { row: await updateMemberRecord(tx, id, set), roleChanged };
  });
  // After commit, never before: open rooms apply the role the database now holds.
  if (roleChanged) await publishMemberChange(deps.presence, { memberId: row.id, kind: "role", role: row.role });
  await publishMemberChanged(deps.presence, row.workspaceId, row.id);
  return memberJson(row);
}

/**
 * Deactivates (or deletes) a member, SPEC §14. In one transaction: the status is set, the token
 * version bumped (every access token stops working), refresh tokens revoked, and a job created
 * whose items are every conversation where the member is the follower or a collaborator. After
 * commit their connections are closed (a `revoked` `MemberChange`) and the job runner sends each conversation
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
    const m = await findMemberRecord(tx, input.memberId, { workspaceId: input.workspaceId, lock: true });
    if (!m) throw new DomainError(ErrorCode.NOT_FOUND);
    if (m.status === "deleted") throw new DomainError(ErrorCode.MEMBER_DELETED);
    const at = now();
    await markMemberDeparted(tx, m.id, input.status, at);
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
  await publishMemberChange(deps.presence, { memberId: input.memberId, kind: "revoked" });
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
    return { row: await updateMemberRecord(tx, id, { status: "active", updatedAt: deps.now() }), changed: true };
  });
  if (changed) await publishMemberChanged(deps.presence, row.workspaceId, row.id);
  return memberJson(row);
}
