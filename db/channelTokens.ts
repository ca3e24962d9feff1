import { and, eq, isNull, lt, or, sql } from "drizzle-orm";
import type { Db } from "./client.ts";
import * as s from "./schema.ts";

/**
 * Storage of the provider access tokens every process shares (server/channels/wechat/token.ts):
 * read, claim the right to fetch a new one, save it, give the claim up.
 */

export interface StoredChannelToken {
  readonly tokenEnc: string | null;
  readonly appId: string | null;
  readonly expiresAt: Date | null;
  readonly refreshingUntil: Date | null;
}

/** The account's stored token, or null when none was ever stored. */
export async function selectChannelToken(db: Db, channelId: string): Promise<StoredChannelToken | null> {
  const t = s.channelTokens;
  const rows = await db
    .select({ tokenEnc: t.tokenEnc, appId: t.appId, expiresAt: t.expiresAt, refreshingUntil: t.refreshingUntil })
    .from(t)
    .where(eq(t.channelId, channelId));
  return rows[0] ?? null;
}

/**
 * Claims the fetch of a new token for the account until `until`: true when no other process holds
 * an unexpired claim (one statement: the row is made on the first claim).
 */
export async function claimChannelTokenRefresh(db: Db, channelId: string, now: Date, until: Date): Promise<boolean> {
  const t = s.channelTokens;
  const rows = await db
    .insert(t)
    .values({ channelId, refreshingUntil: until })
    .onConflictDoUpdate({
      target: t.channelId,
      set: { refreshingUntil: until },
      setWhere: or(isNull(t.refreshingUntil), lt(t.refreshingUntil, now)),
    })
    .returning({ channelId: t.channelId });
  return rows.length > 0;
}

/** Saves a fetched token and ends the claim. */
export async function saveChannelToken(
  db: Db,
  channelId: string,
  token: { readonly tokenEnc: string; readonly appId: string; readonly expiresAt: Date },
): Promise<void> {
  const t = s.channelTokens;
  await db
    .update(t)
    .set({ ...token, refreshingUntil: null })
    .where(eq(t.channelId, channelId));
}

/** Gives the claim up (the fetch failed), unless it has already run out. */
export async function releaseChannelTokenRefresh(db: Db, channelId: string, until: Date): Promise<void> {
  const t = s.channelTokens;
  await db
    .update(t)
    .set({ refreshingUntil: null })
    .where(and(eq(t.channelId, channelId), eq(t.refreshingUntil, until)));
}

/** Forgets every stored token (tests). */
export async function deleteChannelTokens(db: Db): Promise<void> {
  await db.delete(s.channelTokens).where(sql`true`);
}
