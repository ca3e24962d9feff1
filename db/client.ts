import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import { sql } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import * as schema from "./schema.ts";

/** The one database type the code uses; PGlite and PostgreSQL both satisfy it. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;
/** A transaction handle: the same query surface as `Db`. */
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

export interface Database {
  readonly db: Db;
  readonly kind: "pglite" | "postgres";
  /** True once migrations have run; `/readyz` checks it with a live query. */
  migrated: boolean;
  close(): Promise<void>;
}

const migrationsFolder = fileURLToPath(new URL("./migrations", import.meta.url));

/**
 * Opens PostgreSQL when `databaseUrl` is given, otherwise PGlite in `dataDir`
 * (or in memory when `dataDir` is `memory://`). Migrations are applied before it is returned.
 */
export async function openDatabase(opts: { databaseUrl?: string; dataDir: string; poolSize?: number }): Promise<Database> {
  if (opts.databaseUrl) {
    const client = postgres(opts.databaseUrl, { max: opts.poolSize ?? 10, onnotice: () => {} });
    const db = drizzlePostgres(client, { schema }) as unknown as Db;
    await migratePostgres(drizzlePostgres(client), { migrationsFolder });
    return { db, kind: "postgres", migrated: true, close: () => client.end({ timeout: 5 }) };
  }
  const options = { extensions: { pg_trgm } };
  const client = opts.dataDir === "memory://" ? new PGlite(options) : new PGlite(opts.dataDir, options);
  await client.waitReady;
  const db = drizzlePglite(client, { schema }) as unknown as Db;
  await migratePglite(drizzlePglite(client), { migrationsFolder });
  return { db, kind: "pglite", migrated: true, close: () => client.close() };
}

/** A cheap live query: does the database answer and hold our schema? */
export async function ping(db: Db): Promise<boolean> {
  try {
    await db.execute(sql`select 1 from ${schema.workspaces} limit 1`);
    return true;
  } catch {
    return false;
  }
}
