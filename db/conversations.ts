import { and, eq, sql } from "drizzle-orm";
import type { Conversation } from "../domain/model.ts";
import type { Db, Tx } from "./client.ts";
import * as s from "./schema.ts";

/** Small reads of conversation rows for the HTTP routes' checks (the rooms read whole conversations through the repository). */

/** Follower and collaborators of a conversation of the workspace, or null when it is not one of its. */
export async function loadParticipants(
  db: Db | Tx,
  workspaceId: string,
  id: string,
): Promise<Pick<Conversation, "followerId" | "collaboratorIds"> | null> {
  const c = s.conversations;
  const rows = await db
    .select({ followerId: c.followerId, collaboratorIds: c.collaboratorIds })
    .from(c)
    .where(and(eq(c.id, id), eq(c.workspaceId, workspaceId)));
  return rows[0] ?? null;
}

/**
 * Kind and collaborators of the given conversations of the workspace, in one statement (ids of
 * other workspaces, or unknown ones, are left out): what R7.5 looks at.
 */
export async function loadTransferShapes(
  db: Db | Tx,
  workspaceId: string,
  ids: readonly string[],
): Promise<Pick<Conversation, "id" | "kind" | "collaboratorIds">[]> {
  if (ids.length === 0) return [];
  const c = s.conversations;
  return db
    .select({ id: c.id, kind: c.kind, collaboratorIds: c.collaboratorIds })
    .from(c)
    .where(and(eq(c.workspaceId, workspaceId), sql`${c.id} = any(${sql.param([...ids])}::text[])`));
}
