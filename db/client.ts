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
  /** Told of every statement sent (BEGIN and COMMIT included), when set: tests and benchmarks count them. */
  onStatement: ((text: string) => void) | null;
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
    const database: Database = { db: null as unknown as Db, kind: "postgres", migrated: true, onStatement: null, close: () => client.end({ timeout: 5 }) };
    const tell = (text: string) => database.onStatement?.(text);
    (database as { db: Db }).db = drizzlePostgres(countedPostgres(guarded, tell), { schema }) as unknown as Db;
    return database;
  }
  const options = { extensions: { pg_trgm } };
  const client = opts.dataDir === "memory://" ? new PGlite(options) : new PGlite(opts.dataDir, options);
  await client.waitReady;
  await migratePgliteDatabase(client);
  const database: Database = { db: null as unknown as Db, kind: "pglite", migrated: true, onStatement: null, close: () => client.close() };
  const tell = (text: string) => database.onStatement?.(text);
  (database as { db: Db }).db = drizzlePglite(countedPglite(client, tell), { schema }) as unknown as Db;
  return database;
}

// ---- statement counting ---------------------------------------------------------------------
// Thin proxies over the two clients: each statement (and a transaction's BEGIN and COMMIT or
// ROLLBACK) is told to `tell`, which does nothing unless `Database.onStatement` is set.

type Tell = (text: string) => void;

function countedPostgres(client: postgres.Sql, tell: Tell): postgres.Sql {
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop === "unsafe") {
        return (query: string, ...rest: unknown[]) => {
          tell(query);
          return (target.unsafe as (...a: unknown[]) => unknown)(query, ...rest);
        };
      }
      if (prop === "begin" || prop === "savepoint") {
        return (...args: unknown[]) => {
          const cb = args.pop() as (tx: postgres.Sql) => unknown;
          const method = (target as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[prop]!.bind(target);
          tell(prop);
          return method(...args, (tx: postgres.Sql) => cb(countedPostgres(tx, tell))).finally(() => tell(`end ${prop}`));
        };
      }
      return Reflect.get(target, prop, receiver);
    },
  });
}

function countedPglite<T extends object>(client: T, tell: Tell): T {
  return new Proxy(client, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      if (prop === "query" || prop === "exec" || prop === "sql") {
        return (query: unknown, ...rest: unknown[]) => {
          tell(typeof query === "string" ? query : String(prop));
          return value.call(target, query, ...rest);
        };
      }
      if (prop === "transaction") {
        return (cb: (tx: object) => Promise<unknown>) => {
          tell("begin");
          return (value.call(target, (tx: object) => cb(countedPglite(tx, tell))) as Promise<unknown>).finally(() => tell("end begin"));
        };
      }
      return value.bind(target);
    },
  });
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
