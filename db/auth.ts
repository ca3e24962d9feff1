import { and, eq, gt, isNull } from "drizzle-orm";
import type { Db } from "./client.ts";
import type { MemberRecord } from "./members.ts";
import * as s from "./schema.ts";

/**
 * Storage of sign-in (server/auth.ts): members found by email, and refresh tokens, which are
 * stored only as hashes and used once.
 */

/** The member whose stored email is `email` (already trimmed and lower-cased), or null. */
export async function findMemberByEmail(db: Db, email: string): Promise<MemberRecord | null> {
  const rows = await db.select().from(s.members).where(eq(s.members.email, email));
  return rows[0] ?? null;
}

/** Stores a new refresh token's hash for the member. */
export async function insertRefreshToken(db: Db, t: { id: string; memberId: string; tokenHash: string; expiresAt: Date }): Promise<void> {
  await db.insert(s.refreshTokens).values(t);
}

/**
 * Uses a refresh token once: marks it revoked if it is neither revoked nor expired at `now`, in one
 * statement (two concurrent uses cannot both succeed), and returns its member's id; null otherwise.
 */
export async function consumeRefreshToken(db: Db, tokenHash: string, now: Date): Promise<string | null> {
  const rows = await db
    .update(s.refreshTokens)
    .set({ revokedAt: now })
    .where(and(eq(s.refreshTokens.tokenHash, tokenHash), isNull(s.refreshTokens.revokedAt), gt(s.refreshTokens.expiresAt, now)))
    .returning({ memberId: s.refreshTokens.memberId });
  return rows[0]?.memberId ?? null;
}
