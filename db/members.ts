import { and, asc, eq, ilike, isNull, or, sql } from "drizzle-orm";
import type { Locale, MemberStatus, Role } from "../domain/sets.ts";
import type { Db, Tx } from "./client.ts";
import * as s from "./schema.ts";
import { likeSubstring } from "./sql.ts";

/**
 * Storage of members for their administration (server/members.ts, SPEC §14). Reads return whole
 * records (the password hash included: callers decide what to show); rooms read members through
 * `loadMember` / `loadMembers` in db/repository.ts instead.
 */

/** A member's stored record. */
export type MemberRecord = typeof s.members.$inferSelect;

/** The workspace's members matching every given filter, by name then id. `q`: a substring of name, email or phone. */
export async function listMemberRecords(
  db: Db,
  workspaceId: string,
  filter: { status?: MemberStatus; role?: Role; q?: string },
): Promise<MemberRecord[]> {
  const m = s.members;
  const pattern = filter.q ? likeSubstring(filter.q) : null;
  return db
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
}

/**
 * A member by id (any status), or null. `workspaceId` scopes the lookup when given; `lock` takes
 * the row for update (inside a transaction), so concurrent changes of one member run one at a time.
 */
export async function findMemberRecord(
  db: Db | Tx,
  id: string,
  opts: { workspaceId?: string; lock?: boolean } = {},
): Promise<MemberRecord | null> {
  const q = db
    .select()
    .from(s.members)
    .where(and(eq(s.members.id, id), opts.workspaceId ? eq(s.members.workspaceId, opts.workspaceId) : undefined));
  const rows = opts.lock ? await q.for("update") : await q;
  return rows[0] ?? null;
}

/** True when a member of any workspace has `email` (lower case), as the unique index compares. */
export async function emailTaken(db: Db | Tx, email: string): Promise<boolean> {
  const rows = await db.select({ id: s.members.id }).from(s.members).where(sql`lower(${s.members.email}) = ${email}`);
  return rows.length > 0;
}

function isUniqueViolation(e: unknown): boolean {
  // Walks the cause chain: drizzle wraps the driver's error (postgres.js or PGlite), which carries the SQLSTATE.
  for (let cur: any = e; cur; cur = cur.cause) {
    if (cur.code === "23505") return true;
  }
  return false;
}

export interface NewMemberRecord {
  readonly id: string;
  readonly workspaceId: string;
  readonly name: string;
  readonly email: string;
  readonly phone: string | null;
  readonly role: Role;
  readonly locale: Locale;
  readonly passwordHash: string;
  readonly at: Date;
}

/** Inserts an active member; null when the email is taken (the unique index refused it, e.g. a race). */
export async function insertMember(db: Db, m: NewMemberRecord): Promise<MemberRecord | null> {
  try {
    const [row] = await db
      .insert(s.members)
      .values({
        id: m.id,
        workspaceId: m.workspaceId,
        name: m.name,
        email: m.email,
        phone: m.phone,
        role: m.role,
        locale: m.locale,
        status: "active",
        passwordHash: m.passwordHash,
        createdAt: m.at,
        updatedAt: m.at,
      })
      .returning();
    if (!row) throw new Error("member not created");
    return row;
  } catch (e) {
    if (isUniqueViolation(e)) return null;
    throw e;
  }
}

/** The fields administration may change; `updatedAt` always moves. */
export interface MemberChanges {
  readonly name?: string;
  readonly phone?: string | null;
  readonly role?: Role;
  readonly locale?: Locale;
  readonly status?: "active";
  readonly updatedAt: Date;
}

/** Applies `changes` to the member and returns the record as stored. */
export async function updateMemberRecord(tx: Db | Tx, id: string, changes: MemberChanges): Promise<MemberRecord> {
  const [row] = await tx.update(s.members).set(changes).where(eq(s.members.id, id)).returning();
  if (!row) throw new Error(`member ${id} not updated`);
  return row;
}

/**
 * Marks a member departed (deactivated or deleted): the status set, the token version bumped (every
 * access token issued before stops working) and every refresh token revoked. Call inside the
 * transaction that locked the member.
 */
export async function markMemberDeparted(tx: Tx, id: string, status: "deactivated" | "deleted", at: Date): Promise<void> {
  await tx
    .update(s.members)
    .set({ status, tokenVersion: sql`${s.members.tokenVersion} + 1`, updatedAt: at })
    .where(eq(s.members.id, id));
  await tx
    .update(s.refreshTokens)
    .set({ revokedAt: at })
    .where(and(eq(s.refreshTokens.memberId, id), isNull(s.refreshTokens.revokedAt)));
}
