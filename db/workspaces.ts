import { eq, sql } from "drizzle-orm";
import { DEFAULT_SETTINGS, type WorkspaceSettings } from "../domain/model.ts";
import type { Db, Tx } from "./client.ts";
import * as s from "./schema.ts";

/**
 * Storage of workspaces and their settings. A stored settings object may lack keys added since it
 * was written: `settingsOf` fills them from `DEFAULT_SETTINGS`, and every read goes through it.
 */

/** Stored settings completed with the defaults for the keys they do not set (the one place this is done). */
export function settingsOf(stored: Partial<WorkspaceSettings> | null | undefined): WorkspaceSettings {
  return { ...DEFAULT_SETTINGS, ...stored };
}

export interface WorkspaceRow {
  readonly id: string;
  readonly name: string;
  readonly settings: WorkspaceSettings;
}

export async function loadWorkspace(db: Db | Tx, id: string): Promise<WorkspaceRow | null> {
  const row = (await db.select().from(s.workspaces).where(eq(s.workspaces.id, id)))[0];
  return row ? { id: row.id, name: row.name, settings: settingsOf(row.settings) } : null;
}

/** A workspace's settings, with defaults for keys it does not set (defaults alone for an unknown workspace). */
export async function loadSettings(db: Db | Tx, workspaceId: string): Promise<WorkspaceSettings> {
  const rows = await db.select({ settings: s.workspaces.settings }).from(s.workspaces).where(eq(s.workspaces.id, workspaceId));
  return settingsOf(rows[0]?.settings);
}

/**
 * Changes some of a workspace's settings in one statement (two admins changing different keys at
 * once both keep their change). Returns the workspace as stored after it, or null when unknown.
 */
export async function updateSettings(db: Db | Tx, workspaceId: string, patch: Partial<WorkspaceSettings>): Promise<WorkspaceRow | null> {
  const [row] = await db
    .update(s.workspaces)
    .set({ settings: sql`${s.workspaces.settings} || ${JSON.stringify(patch)}::jsonb` })
    .where(eq(s.workspaces.id, workspaceId))
    .returning();
  return row ? { id: row.id, name: row.name, settings: settingsOf(row.settings) } : null;
}
