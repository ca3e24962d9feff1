import { rmSync } from "node:fs";
import pino from "pino";
import { afterAll, expect, it } from "vitest";
import { timersOf } from "../../db/timers.ts";
import { type App, startApp } from "../../server/app.ts";
import { parseConfig } from "../../server/config.ts";
import { dropDatabase, freshDatabaseUrl, freshPgliteDir } from "../support/db.ts";
import { createConversation } from "../support/fixtures.ts";
import { connect } from "../support/rooms.ts";
import { EMAIL, ID, closeAll, login } from "../support/server.ts";

/**
 * A timer that fell due while no server ran fires once when one starts (issue 11, item 3): the
 * timers are rows in the database, not in a process's memory.
 */

let clock = Date.parse("2026-11-29T09:00:00Z");
let databaseUrl: string | undefined;
let dataDir = "";
const running: App[] = [];

async function start(): Promise<App> {
  const app = await startApp(
    parseConfig({
      PORT: "0",
      HOST: "127.0.0.1",
      DATA_DIR: dataDir,
      SEED_DEMO: "true",
      JWT_SECRET: "test-secret-test-secret-test-secret-42",
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    }),
    { log: pino({ level: process.env.TEST_LOG ?? "silent" }), now: () => new Date(clock) },
  );
  running.push(app);
  return app;
}

afterAll(async () => {
  await closeAll();
  for (const app of running) await app.stop();
  await dropDatabase(databaseUrl);
  if (dataDir && dataDir !== "memory://") rmSync(dataDir, { recursive: true, force: true });
});

it("[R13.4] an auto-close due while the server was down happens once at the next start, with its log line", async () => {
  databaseUrl = await freshDatabaseUrl();
  dataDir = databaseUrl ? "memory://" : await freshPgliteDir();
  const first = await start();
  const admin = await login(first, EMAIL.admin);
  await first.http.request("/api/v2/workspace/settings", {
    method: "PATCH",
    headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
    body: JSON.stringify({ autoCloseAfterMinutes: 60 }),
  });
  const conv = await createConversation(first, { channel: "webchat", follower: ID.agent });
  const conn = await connect(first, "agent", conv.id);
  expect((await conn.act("reply", { text: "bye for now" })).ok).toBe(true);
  await closeAll();
  await first.stop();

  clock += 3 * 60 * 60_000; // due two hours ago by the time a server runs again
  const second = await start();
  const closedOnce = async () => {
    const row = await second.database.db.query.conversations.findFirst({ where: (c, { eq }) => eq(c.id, conv.id) });
    const lines = await second.database.db.query.conversationEvents.findMany({ where: (e, { and, eq }) => and(eq(e.conversationId, conv.id), eq(e.kind, "auto_closed")) });
    return row?.status === "closed" && lines.length === 1;
  };
  // The scheduler's first drain runs at start: no kick from the test.
  const deadline = Date.now() + 15_000;
  while (!(await closedOnce())) {
    if (Date.now() > deadline) throw new Error("not closed after the restart");
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(await timersOf(second.database.db, conv.id)).toEqual([]);
  await second.scheduler.drainAll();
  expect(await closedOnce()).toBe(true);
});
