import postgres from "postgres";
import { afterAll, describe, expect, it } from "vitest";
import { type Database, openDatabase } from "../../db/client.ts";
import { type ChildServer, killAllChildren, killHard, startChildServer } from "../support/child.ts";
import { dropDatabase, freshDatabaseUrl } from "../support/db.ts";
import { type Fixture, createConversation } from "../support/fixtures.ts";
import { type App, EMAIL, ID } from "../support/server.ts";
import { ChildClients, autoCloseTrace, until } from "./children.ts";

/**
 * R13.4 when the server is killed (`kill -9`) while timers are due and being fired: a real server
 * process (server/main.ts) on PostgreSQL claims the due timers and its commits are held back by a
 * row lock the test takes on the conversations, so the process dies with the firings in flight.
 * Each of them is committed whole or not at all; the next process takes the timers left once the
 * dead one's lease has run out, and each conversation is reminded once (LINE) and closed once.
 *
 * One process at a time on PostgreSQL alone (no Redis: the single-process deployment). Time is
 * the real clock with the smallest duration the settings allow (1 minute, grace 0), as in
 * test/scheduler/processes.test.ts.
 */
const enabled = Boolean(process.env.DATABASE_URL);

let databaseUrl: string | undefined;
let database: Database | null = null;
let locker: postgres.Sql | null = null;
const clients = new ChildClients();
const fixtures = () => ({ database }) as unknown as App;

function start(): Promise<ChildServer> {
  return startChildServer({
    DATABASE_URL: databaseUrl!,
    DATA_DIR: "unused",
    REDIS_URL: "",
    SCHEDULER_POLL_MS: "100",
    SCHEDULER_LEASE_MS: "3000",
    // The held-back commit waits for the test's lock instead of timing out.
    DB_STATEMENT_TIMEOUT_MS: "120000",
  });
}

if (!enabled) {
  describe.skip("scheduler and kill -9: skipped, DATABASE_URL must be set", () => {
    it("needs PostgreSQL", () => {});
  });
} else {
  afterAll(async () => {
    await clients.leaveAll();
    await killAllChildren();
    await database?.close();
    await locker?.end({ timeout: 5 });
    await dropDatabase(databaseUrl);
  }, 60_000);

  describe("the scheduler and kill -9", () => {
    it("[R13.4] a process killed (kill -9) while firing due timers leaves each firing whole or undone; the next process reminds and closes each conversation exactly once", async () => {
      databaseUrl = await freshDatabaseUrl();
      const first = await start();
      database = await openDatabase({ databaseUrl: databaseUrl!, dataDir: "unused" });
      await clients.settings(first, EMAIL.admin, { autoCloseAfterMinutes: 1, autoCloseGraceMinutes: 0, csatOnClose: false });
      const line: Fixture = await createConversation(fixtures(), { channel: "line", follower: ID.agent });
      const webchat: Fixture = await createConversation(fixtures(), {
        channel: "webchat",
        follower: ID.agent,
        collaborators: [ID.manager],
      });
      for (const c of [line, webchat]) {
        const conn = await clients.open(first, EMAIL.agent, c.id);
        expect((await conn.act("reply", { text: "anything else?" })).ok).toBe(true);
        await conn.leave();
      }

      // Hold both conversation rows: the firings' commits will wait on them.
      locker = postgres(databaseUrl!, { max: 1, onnotice: () => {} });
      const held = await locker.reserve();
      await held`begin`;
      await held`select id from conversations where id in ${held([line.id, webchat.id])} for update`;

      // A real minute later the process claims both timers and its commits block on the lock.
      const claimed = async () => {
        const rows = await held<{ n: number }[]>`
          select count(*)::int as n from timers where conversation_id in ${held([line.id, webchat.id])} and lease_until is not null`;
        const waiting = await held<{ n: number }[]>`
          select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`;
        return rows[0]!.n === 2 && waiting[0]!.n >= 1;
      };
      await until(claimed, 150_000, "both timers claimed and a commit waiting on the lock");
      const blocked = (
        await held<{ pid: number }[]>`
        select pid from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`
      ).map((r) => r.pid);
      await killHard(first.child);
      await held`rollback`;
      held.release();
      // The dead process's blocked statements now run to their end without a client: a statement
      // that was the whole commit may still commit, one inside a transaction is rolled back. Wait
      // until their backends are gone, then nothing else writes until the next process starts.
      await until(
        async () =>
          (await locker!<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where pid in ${locker!(blocked)}`)[0]!.n === 0,
        60_000,
        "the dead process's backends gone",
      );

      // Each firing in flight at the kill is committed whole or not at all.
      const untouched = { status: "in_progress", reminders: 0, closes: 0, timers: 1 };
      expect([untouched, { status: "in_progress", reminders: 1, closes: 0, timers: 1 }]).toContainEqual(
        await autoCloseTrace(database, line.id),
      );
      expect([untouched, { status: "closed", reminders: 0, closes: 1, timers: 0 }]).toContainEqual(
        await autoCloseTrace(database, webchat.id),
      );

      // The next process takes them once the lease (3 s) has run out.
      await start();
      await until(
        async () =>
          (await autoCloseTrace(database!, line.id)).status === "closed" &&
          (await autoCloseTrace(database!, webchat.id)).status === "closed",
        90_000,
        "both closed by the next process",
      );
      await new Promise((r) => setTimeout(r, 2000));
      expect(await autoCloseTrace(database, line.id)).toEqual({ status: "closed", reminders: 1, closes: 1, timers: 0 });
      expect(await autoCloseTrace(database, webchat.id)).toEqual({ status: "closed", reminders: 0, closes: 1, timers: 0 });
    }, 400_000);
  });
}
