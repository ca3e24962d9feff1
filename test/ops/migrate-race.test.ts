import { readFileSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, describe, expect, it } from "vitest";
import { DEMO_MEMBERS } from "../../server/seed.ts";
import { type ChildServer, killAllChildren, startChildServer } from "../support/child.ts";
import { dropDatabase, freshDatabaseUrl } from "../support/db.ts";

/**
 * Five real server processes started at once on one empty PostgreSQL database, every one with
 * SEED_DEMO=true (startChildServer's default): the migrations run under an advisory lock and the
 * demo seed under the workspace-setup lock, so every process comes up, the schema is migrated
 * once, and the demo workspace is written once. Without the locks, processes died on
 * `relation … already exists` or on the seed's duplicate key.
 */
const PROCESSES = 5;
const journal = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "db", "migrations", "meta", "_journal.json"), "utf8")) as {
  entries: { tag: string }[];
};

describe.skipIf(!process.env.DATABASE_URL)("migrations and the demo seed under a race of processes (PostgreSQL)", () => {
  let databaseUrl: string | undefined;
  let sql: postgres.Sql | undefined;

  afterAll(async () => {
    await killAllChildren();
    await sql?.end();
    await dropDatabase(databaseUrl);
  });

  it(`${PROCESSES} processes starting at once on an empty database all come up; migrations applied once, demo seeded once`, async () => {
    databaseUrl = await freshDatabaseUrl();
    // No Redis: each process keeps its own presence; what is shared is the database.
    const env = { DATABASE_URL: databaseUrl!, DATA_DIR: "unused", REDIS_URL: "" };
    const started = await Promise.allSettled(Array.from({ length: PROCESSES }, () => startChildServer(env)));
    const failures = started.filter((r): r is PromiseRejectedResult => r.status === "rejected").map((r) => String(r.reason).slice(0, 400));
    expect(failures).toEqual([]);
    const servers = started.map((r) => (r as PromiseFulfilledResult<ChildServer>).value);
    for (const s of servers) expect((await fetch(`${s.url}/readyz`)).status).toBe(200);

    sql = postgres(databaseUrl!, { max: 1, onnotice: () => {} });
    const applied = await sql<{ hash: string }[]>`select hash from drizzle.__drizzle_migrations order by id`;
    expect(applied).toHaveLength(journal.entries.length);
    expect(new Set(applied.map((r) => r.hash)).size).toBe(journal.entries.length);
    const [workspaces] = await sql<{ n: number }[]>`select count(*)::int as n from workspaces`;
    expect(workspaces!.n).toBe(1);
    const [members] = await sql<{ n: number }[]>`select count(*)::int as n from members`;
    expect(members!.n).toBe(DEMO_MEMBERS.length);

    // Every process serves the one seeded workspace.
    for (const s of servers) {
      const res = await fetch(`${s.url}/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: "agent@demo.test", password: "demo-password" }),
      });
      expect(res.status).toBe(200);
    }
  }, 300_000); // five servers starting at once on a 2-core machine
});
