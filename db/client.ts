import { PGlite } from "@electric-sql/pglite";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import { sql } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { SocketWatch, guardClient, withDeadline } from "./deadline.ts";
import { migratePgliteDatabase, migratePostgresDatabase } from "./migrate.ts";
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

/** `DB_STATEMENT_TIMEOUT_MS`'s default. */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 5000;
/**
 * How much longer than the statement timeout the client waits for an answer before it gives the
 * connection up: time for the server's own cancellation (57014) to arrive first.
 */
const CLIENT_GRACE_MS = 1000;

/** Reconnection back-off (seconds): short, capped at 2 s, so service resumes soon after an outage. */
const backoff = (attempt: number) => Math.min(0.05 * 2 ** attempt, 2);

/**
 * Opens PostgreSQL when `databaseUrl` is given, otherwise PGlite in `dataDir`
 * (or in memory when `dataDir` is `memory://`). Migrations are applied before it is returned
 * (`db/migrate.ts`: on PostgreSQL under an advisory lock, so processes starting together are safe).
 *
 * On PostgreSQL every statement is bounded by `statementTimeoutMs` (server side) and every query
 * and transaction by the same plus a second (client side, see `deadline.ts`): a slow, stalled or
 * lost connection ends in an error `isStorageUnavailable` recognizes, never in a wait without end.
 * PGlite runs in this process and cannot stall, so it has no such bound.
 */
export async function openDatabase(opts: {
  databaseUrl?: string;
  dataDir: string;
  poolSize?: number;
  statementTimeoutMs?: number;
}): Promise<Database> {
  if (opts.databaseUrl) {
    const timeoutMs = opts.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
    // Migrations run on their own connection without the statement timeout: they may be slow.
    await migratePostgresDatabase(opts.databaseUrl);
    const watch = new SocketWatch();
    const client = postgres(opts.databaseUrl, {
      max: opts.poolSize ?? 10,
      onnotice: () => {},
      backoff,
      connect_timeout: (timeoutMs + CLIENT_GRACE_MS) / 1000,
      connection: {
        statement_timeout: timeoutMs,
        // A transaction the client gave up on must not keep its locks until TCP notices.
        idle_in_transaction_session_timeout: 2 * (timeoutMs + CLIENT_GRACE_MS),
      },
      // Not in postgres.js's types, but supported: we open the sockets so we can watch them.
      ...({ socket: watch.open } as object),
    });
    const deadlineMs = timeoutMs + CLIENT_GRACE_MS;
    const guarded = guardClient(client, deadlineMs, () => watch.destroyQuiet(deadlineMs / 2));
    const db = drizzlePostgres(guarded, { schema }) as unknown as Db;
    return { db, kind: "postgres", migrated: true, close: () => client.end({ timeout: 5 }) };
  }
  const options = { extensions: { pg_trgm } };
  const client = opts.dataDir === "memory://" ? new PGlite(options) : new PGlite(opts.dataDir, options);
  await client.waitReady;
  const db = drizzlePglite(client, { schema }) as unknown as Db;
  await migratePgliteDatabase(client);
  return { db, kind: "pglite", migrated: true, close: () => client.close() };
}

/** A cheap live query: does the database answer, within `deadlineMs`, and hold our schema? */
export async function ping(db: Db, deadlineMs = 2000): Promise<boolean> {
  try {
    await withDeadline(db.execute(sql`select 1 from ${schema.workspaces} limit 1`), deadlineMs, () => {});
    return true;
  } catch {
    return false;
  }
}
