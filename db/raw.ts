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
}
interface PgliteClient {
  query(text: string, params: unknown[]): Promise<{ rows: unknown[] }>;
}

/** Runs one statement (outside any transaction: a single statement is its own) and returns its rows. */
export async function runRaw<T>(db: Db, text: string, params: readonly unknown[]): Promise<T[]> {
  const client = (db as unknown as { $client: PostgresClient | PgliteClient }).$client;
  if ("unsafe" in client && typeof client.unsafe === "function") {
    return (await client.unsafe(text, [...params], { prepare: true })) as T[];
  }
  return (await (client as PgliteClient).query(text, [...params])).rows as T[];
}

/** A timestamp as either driver returns it here: a `Date` (PGlite) or PostgreSQL's text (postgres.js under Drizzle's parsers). */
export function toDate(v: unknown): Date {
  return v instanceof Date ? v : new Date(String(v));
}
