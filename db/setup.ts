import { asc, eq } from "drizzle-orm";
import type { WorkspaceSettings } from "../domain/model.ts";
import type { Db, Tx } from "./client.ts";
import * as s from "./schema.ts";

/**
 * Creating a workspace from nothing (`npm run admin:init`). Callers run these inside one
 * transaction that first takes the workspace-setup lock (`lockWorkspaceSetup` in migrate.ts), so
 * what they read about existing workspaces stays true until they commit.
 */

/** The ids of up to `limit` existing workspaces, oldest first (none: the database is empty). */
export async function someWorkspaceIds(db: Db | Tx, limit: number): Promise<string[]> {
  const rows = await db.select({ id: s.workspaces.id }).from(s.workspaces).orderBy(asc(s.workspaces.createdAt), asc(s.workspaces.id)).limit(limit);
  return rows.map((r) => r.id);
}

/** True when a workspace has this id. */
export async function workspaceExists(db: Db | Tx, id: string): Promise<boolean> {
  const rows = await db.select({ id: s.workspaces.id }).from(s.workspaces).where(eq(s.workspaces.id, id));
  return rows.length > 0;
}

/** Inserts a workspace (its members and channels come after, in the same transaction). */
export async function insertWorkspace(db: Db | Tx, w: { id: string; name: string; settings: WorkspaceSettings }): Promise<void> {
  await db.insert(s.workspaces).values(w);
}
