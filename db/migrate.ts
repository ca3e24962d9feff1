import { fileURLToPath } from "node:url";
import type { PGlite } from "@electric-sql/pglite";
import { sql } from "drizzle-orm";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import type { Tx } from "./client.ts";

/**
 * Applying the migrations in `db/migrations` (made by `npm run db:generate`).
 *
 * On PostgreSQL many processes may start at once on one database (several `web` processes, a
 * release step, `admin:init`): drizzle's migrator alone is not safe then (each reads "nothing
 * applied yet", then both run `create table` and all but one fail; even its first
 * `create schema if not exists` can fail on a race). So the whole migration runs under a
 * session-level advisory lock: the first process migrates, the others wait for the lock, then
 * find everything applied and do nothing.
 */

const migrationsFolder = fileURLToPath(new URL("./migrations", import.meta.url));

/**
 * The advisory lock keys this project takes (one 64-bit key space per database, shared with
 * anything else using advisory locks there: the values are arbitrary but fixed).
 */
export const AdvisoryLock = {
  /** Held for the whole of a migration run. */
  migrations: 7_325_101_001,
  /** Held (per transaction) while a workspace is created on what must be an empty database: the demo seed, `admin:init`. */
  workspaceSetup: 7_325_101_002,
} as const;

/** A key as a bigint literal (a constant of ours, never input): no parameter type to infer. */
function lockKey(key: number) {
  return sql.raw(`${Math.trunc(key)}::bigint`);
}

/**
 * Applies the migrations on PostgreSQL at `databaseUrl` under the migrations advisory lock.
 * Uses one connection of its own without a statement timeout (a migration may be slow); waits
 * for as long as another process holds the lock.
 */
export async function migratePostgresDatabase(databaseUrl: string): Promise<void> {
  // `max: 1`: the lock, the migrator's reads and its transaction all run on the same session, so the
  // session-level lock covers them. Should that connection drop, the lock goes with it and the
  // migrator's next statement fails: the process stops instead of migrating unlocked.
  const client = postgres(databaseUrl, { max: 1, onnotice: () => {}, connect_timeout: 30 });
  try {
    const session = drizzlePostgres(client);
    await session.execute(sql`select pg_advisory_lock(${lockKey(AdvisoryLock.migrations)})`);
    try {
      await migratePostgres(session, { migrationsFolder });
    } finally {
      await session.execute(sql`select pg_advisory_unlock(${lockKey(AdvisoryLock.migrations)})`).catch(() => {});
    }
  } finally {
    await client.end({ timeout: 5 });
  }
}

/** Applies the migrations on an embedded PGlite (one process owns its folder: no lock needed). */
export async function migratePgliteDatabase(client: PGlite): Promise<void> {
  await migratePglite(drizzlePglite(client), { migrationsFolder });
}

/**
 * Takes the workspace-setup lock until the end of transaction `tx`: two processes creating the
 * first workspace at once (demo seeds, `admin:init`) run one after the other, so the second sees
 * what the first wrote and its "is the database empty?" check is exact.
 */
export async function lockWorkspaceSetup(tx: Tx): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${lockKey(AdvisoryLock.workspaceSetup)})`);
}
