import { rmSync } from "node:fs";
import { afterAll, beforeAll } from "vitest";
import { type Database, openDatabase } from "../../db/client.ts";
import { seedDemo } from "../../server/seed.ts";
import { dropDatabase, freshDatabaseUrl, freshPgliteDir } from "./db.ts";

/**
 * A fresh database of `kind` with the demo workspace, opened before the tests of the enclosing
 * `describe` and closed and removed after them: `const store = useSeededDatabase(kind)`, then
 * `store.database` inside the tests (and `store.url`, PostgreSQL's, for a second connection). (Not in db.ts: the benchmarks import that one outside vitest.)
 */
export function useSeededDatabase(kind: "pglite" | "postgres"): { readonly database: Database; readonly url?: string } {
  const state: { database: Database; url?: string; dir?: string } = { database: undefined as unknown as Database };
  beforeAll(async () => {
    state.url = kind === "postgres" ? await freshDatabaseUrl() : undefined;
    state.dir = state.url ? undefined : await freshPgliteDir();
    state.database = await openDatabase({ databaseUrl: state.url, dataDir: state.dir ?? "unused" });
    await seedDemo(state.database.db);
  });
  afterAll(async () => {
    await state.database?.close();
    await dropDatabase(state.url);
    if (state.dir) rmSync(state.dir, { recursive: true, force: true });
  });
  return state;
}
