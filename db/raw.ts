import type { Db } from "./client.ts";

/**
 * Hot statements written by hand, for the paths where the ORM's query building shows in the CPU
 * profile (docs/benchmarks.md): the text is built once per shape with positional parameters and,
 * on PostgreSQL, prepared once per connection (postgres.js caches it by its text), so a statement
 * costs one round trip and no building. Drizzle stays for the schema and everything else.
 *
 * Parameters are passed with an explicit cast in the text (`$1::text`), so both drivers send them
 * as text; results come back with timestamps as `Date` or as PostgreSQL's text (see `toDate`).
 */

/** Positional parameters of one statement: `p(value, "int")` appends one and returns `$n::int`. */
export class Params {
  readonly values: unknown[] = [];
  p(value: unknown, cast: string): string {
    this.values.push(value);
    return `$${this.values.length}::${cast}`;
  }
}

interface PostgresClient {
  unsafe(text: string, params: unknown[], options: { prepare: boolean }): PromiseLike<unknown>;
  begin<T>(cb: (tx: PostgresClient) => Promise<T>): Promise<T>;
}
interface PgliteClient {
  query(text: string, params: unknown[]): Promise<{ rows: unknown[] }>;
  transaction<T>(cb: (tx: PgliteClient) => Promise<T>): Promise<T>;
}

/** The postgres.js client under `db`, or null when it is PGlite. */
function postgresClient(db: Db): PostgresClient | null {
  const client = (db as unknown as { $client: PostgresClient | PgliteClient }).$client;
  return "unsafe" in client && typeof client.unsafe === "function" ? client : null;
}

/**
 * How many statements a queue of `db` (group commit, restores read together) keeps in flight:
 * `flights` on PostgreSQL, 1 on PGlite, which runs one statement at a time in this process.
 */
export function statementFlights(db: Db, flights: number): number {
  return postgresClient(db) ? flights : 1;
}

/** One statement of a group (`runRawGroup`). */
export interface RawStatement {
  readonly text: string;
  readonly params: readonly unknown[];
}

/**
 * Runs `statements` in ONE transaction and returns each one's rows, in order. On PostgreSQL they
 * are sent together (pipelined: one write, one round trip for all of them between BEGIN and
 * COMMIT). Throws, having committed nothing, when any of them fails (the transaction is rolled
 * back as a whole) or when the transaction cannot be committed.
 */
export async function runRawGroup<T>(db: Db, statements: readonly RawStatement[]): Promise<T[][]> {
  const pg = postgresClient(db);
  if (pg) {
    return pg.begin(async (tx) => {
      // Every statement settled before the callback returns: the ROLLBACK (if any) follows them all.
      const settled = await Promise.allSettled(statements.map((st) => Promise.resolve(tx.unsafe(st.text, [...st.params], { prepare: true }))));
      const failed = settled.find((r) => r.status === "rejected");
      if (failed) throw (failed as PromiseRejectedResult).reason;
      return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value as T[]);
    });
  }
  return (db as unknown as { $client: PgliteClient }).$client.transaction(async (tx) => {
    const out: T[][] = [];
    for (const st of statements) out.push((await tx.query(st.text, [...st.params])).rows as T[]);
    return out;
  });
}

/** Runs one statement (outside any transaction: a single statement is its own) and returns its rows. */
export async function runRaw<T>(db: Db, text: string, params: readonly unknown[]): Promise<T[]> {
  const pg = postgresClient(db);
  if (pg) return (await pg.unsafe(text, [...params], { prepare: true })) as T[];
  return (await (db as unknown as { $client: PgliteClient }).$client.query(text, [...params])).rows as T[];
}

/** A json column as either driver returns it here: an object (postgres.js) or its text (PGlite, some raw reads). */
export function jsonColumn<T>(v: unknown): T {
  return (typeof v === "string" ? JSON.parse(v) : v) as T;
}

/** A timestamp as either driver returns it here: a `Date` (PGlite) or PostgreSQL's text (postgres.js under Drizzle's parsers). */
export function toDate(v: unknown): Date {
  return v instanceof Date ? v : new Date(String(v));
}
