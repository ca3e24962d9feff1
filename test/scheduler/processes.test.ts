import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../db/client.ts";
import { type ChildServer, killAllChildren } from "../support/child.ts";
import { type Cluster, startCluster } from "../support/cluster.ts";
import { type Fixture, createConversation } from "../support/fixtures.ts";
import { type App, EMAIL, ID } from "../support/server.ts";
import { ChildClients, autoCloseTrace, until } from "./children.ts";

/**
 * R13.4 with two real server PROCESSES (server/main.ts) sharing one PostgreSQL (and Redis, as
 * several processes run), both running the scheduler on the real clock: every due timer is
 * claimed by one of them, and each conversation is reminded once and closed once.
 *
 * Time: the child processes run on the real clock (nothing in a production build can move it),
 * so the workspace's duration is the smallest the settings allow, 1 minute, and the grace period
 * 0: the test waits one real minute. docs/bench-push-scheduler.md explains the choice.
 */
const enabled = Boolean(process.env.DATABASE_URL && process.env.REDIS_URL);
/** This file's Redis database (test/support/child.ts: each file takes its own). */
const REDIS_DB = 13;

let cluster: Cluster | null = null;
let servers: ChildServer[] = [];
let database: Database | null = null;
const clients = new ChildClients();
const fixtures = () => ({ database }) as unknown as App;

if (!enabled) {
  describe.skip("scheduler in two processes: skipped, DATABASE_URL and REDIS_URL must both be set", () => {
    it("needs PostgreSQL and Redis", () => {});
  });
} else {
  describe("the scheduler in two processes sharing PostgreSQL", () => {
    beforeAll(async () => {
      cluster = await startCluster(REDIS_DB, 2, { publicAddress: true, env: { SCHEDULER_POLL_MS: "100", SCHEDULER_LEASE_MS: "30000" } });
      ({ servers, database } = cluster);
    }, 240_000);
    afterAll(async () => {
      await clients.leaveAll();
      if (cluster) await cluster.stop();
      else await killAllChildren();
    }, 60_000);

    it("[R13.4] auto-close reminds (LINE) then closes exactly once, and closes Webchat conversations exactly once, with both processes' schedulers racing for the timers", async () => {
      await clients.settings(servers[0]!, EMAIL.admin, { autoCloseAfterMinutes: 1, autoCloseGraceMinutes: 0, csatOnClose: false });
      const line: Fixture[] = [];
      const webchat: Fixture[] = [];
      for (let k = 0; k < 8; k++)
        line.push(await createConversation(fixtures(), { channel: "line", follower: ID.agent, collaborators: [ID.manager] }));
      for (let k = 0; k < 8; k++) webchat.push(await createConversation(fixtures(), { channel: "webchat", follower: ID.agent }));
      // Staff replies through both processes (the follower's and a collaborator's count alike).
      const all = [...line, ...webchat];
      for (const [k, c] of all.entries()) {
        const conn = await clients.open(servers[k % 2]!, k % 3 === 0 && k < line.length ? EMAIL.manager : EMAIL.agent, c.id);
        expect((await conn.act("reply", { text: `anything else? ${k}` })).ok).toBe(true);
      }
      for (const c of all) expect((await autoCloseTrace(database!, c.id)).timers).toBe(1);

      // One real minute later both schedulers find the timers due.
      await until(
        async () => {
          for (const c of all) if ((await autoCloseTrace(database!, c.id)).status !== "closed") return false;
          return true;
        },
        150_000,
        "every conversation closed",
      );
      // A moment more for a second firing, were there one.
      await new Promise((r) => setTimeout(r, 2000));
      for (const c of line)
        expect(await autoCloseTrace(database!, c.id), `LINE ${c.id}`).toEqual({ status: "closed", reminders: 1, closes: 1, timers: 0 });
      for (const c of webchat)
        expect(await autoCloseTrace(database!, c.id), `Webchat ${c.id}`).toEqual({ status: "closed", reminders: 0, closes: 1, timers: 0 });
    }, 240_000);
  });
}
