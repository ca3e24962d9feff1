import { randomUUID } from "node:crypto";
import { Client, type Room, type SeatReservation } from "@colyseus/sdk";
import { and, eq, isNull } from "drizzle-orm";
import webpush from "web-push";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../db/client.ts";
import * as s from "../../db/schema.ts";
import { type ChildServer, killAllChildren } from "../support/child.ts";
import { type Cluster, startCluster } from "../support/cluster.ts";
import { WEBCHAT } from "../support/demo.ts";
import { type Fixture, createConversation, memberState } from "../support/fixtures.ts";
import { type App, Conn, EMAIL, ID, waitFor } from "../support/server.ts";
import { FakeWebPush } from "./fakes.ts";

/**
 * R12.1 across processes: two real server processes (server/main.ts) on one PostgreSQL and one
 * Redis, each running its own push worker on the real clock, and a local Web Push service. A
 * member who has the conversation open through process A gets no push for a customer message
 * that arrives at process B (the worker asks the conversation's room, wherever it lives, who is
 * connected); a participant who is not viewing gets exactly one.
 */
const enabled = Boolean(process.env.DATABASE_URL && process.env.REDIS_URL);
/** This file's Redis database (test/support/child.ts: each file takes its own). */
const REDIS_DB = 12;

const vapid = webpush.generateVAPIDKeys();
const webPush = new FakeWebPush(() => vapid.publicKey);
let cluster: Cluster | null = null;
let servers: ChildServer[] = [];
let database: Database | null = null;
const rooms: Room[] = [];
const fixtures = () => ({ database }) as unknown as App;
const tokens = new Map<string, Promise<string>>();

function signIn(server: ChildServer, email: string): Promise<string> {
  const key = `${server.url} ${email}`;
  let token = tokens.get(key);
  if (!token) {
    token = (async () => {
      const res = await fetch(`${server.url}/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email, password: "demo-password" }),
      });
      expect(res.status).toBe(200);
      return ((await res.json()) as { accessToken: string }).accessToken;
    })();
    tokens.set(key, token);
  }
  return token;
}

/** Registers a fake browser subscription for the member through `server`'s HTTP API. */
async function registerWeb(server: ChildServer, email: string) {
  const sub = webPush.subscribe();
  const res = await fetch(`${server.url}/api/v2/devices`, {
    method: "POST",
    headers: { authorization: `Bearer ${await signIn(server, email)}`, "content-type": "application/json" },
    body: JSON.stringify({ kind: "web", subscription: { endpoint: sub.endpoint, keys: sub.keys } }),
  });
  expect(res.status).toBe(201);
  return sub;
}

/** Opens the conversation as an SDK client of process `via` (the SDK goes on to the process holding the room). */
async function openConversation(via: number, email: string, conversationId: string): Promise<{ conn: Conn; holder: number }> {
  const token = await signIn(servers[via]!, email);
  const res = await fetch(`${servers[via]!.url}/matchmake/joinOrCreate/conversation`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ conversationId, view: "mine" }),
  });
  if (res.status !== 200) throw new Error(`matchmake ${res.status}: ${await res.text()}`);
  const seat = (await res.json()) as SeatReservation;
  const client = new Client(servers[via]!.url.replace(/^http/, "ws"));
  client.auth.token = token;
  const room = await client.consumeSeatReservation(seat);
  rooms.push(room);
  const conn = new Conn(room);
  await waitFor(() => conn.state?.id === conversationId, 15_000);
  return { conn, holder: servers.findIndex((sv) => sv.url === `http://${seat.publicAddress}`) };
}

function customerWritesAt(server: ChildServer, c: { channelUserId: string; customerName: string }, text: string) {
  return fetch(`${server.url}/channels/webchat/${WEBCHAT.channelId}/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-channel-secret": WEBCHAT.secret },
    body: JSON.stringify({ messageId: randomUUID(), customer: { id: c.channelUserId, name: c.customerName }, text }),
  });
}

const pushesTo = (subId: string, conversationId: string) =>
  webPush.received.filter((r) => r.subscriptionId === subId && r.payload.conversationId === conversationId);

async function batchesLeft(conversationId: string): Promise<number> {
  const rows = await database!.db.select().from(s.pushBatches).where(eq(s.pushBatches.conversationId, conversationId));
  const pending = await database!.db
    .select()
    .from(s.outbox)
    .where(and(eq(s.outbox.topic, "push"), isNull(s.outbox.doneAt)));
  return rows.length + pending.length;
}

async function until(check: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 200));
  }
}

if (!enabled) {
  describe.skip("push across two processes: skipped, DATABASE_URL and REDIS_URL must both be set", () => {
    it("needs PostgreSQL and Redis", () => {});
  });
} else {
  describe("push across two processes on one PostgreSQL and one Redis", () => {
    beforeAll(async () => {
      await webPush.start();
      cluster = await startCluster(REDIS_DB, 2, {
        publicAddress: true,
        env: {
          VAPID_PUBLIC_KEY: vapid.publicKey,
          VAPID_PRIVATE_KEY: vapid.privateKey,
          VAPID_SUBJECT: "mailto:ops@inbox.test",
          WEB_PUSH_ALLOW_HTTP: "true",
          PUSH_COALESCE_SECONDS: "1",
          PUSH_POLL_MS: "200",
        },
      });
      ({ servers, database } = cluster);
    }, 240_000);
    afterAll(async () => {
      await Promise.all(rooms.map((r) => Promise.race([r.leave().catch(() => {}), new Promise((ok) => setTimeout(ok, 1000))])));
      if (cluster) await cluster.stop();
      else await killAllChildren();
      await webPush.stop();
    }, 60_000);

    it("[R12.1] a member viewing the conversation through process A gets no push for a customer message arriving at process B; the collaborator not viewing gets one", async () => {
      const danWeb = await registerWeb(servers[0]!, EMAIL.agent); // the follower, viewing
      const benWeb = await registerWeb(servers[1]!, EMAIL.manager); // the collaborator, not viewing
      // Several conversations: each room lives where Colyseus puts it, the pushes are sent by
      // whichever process's worker claims them; every one must come out the same.
      const convs: Fixture[] = [];
      for (let k = 0; k < 4; k++)
        convs.push(await createConversation(fixtures(), { channel: "webchat", follower: ID.agent, collaborators: [ID.manager] }));
      for (const [k, c] of convs.entries()) {
        // Joined through either process; the SDK connects to the process holding the room (A),
        // wherever Colyseus put it. The customer's message arrives at the other process (B).
        const { holder } = await openConversation(k % 2, EMAIL.agent, c.id);
        expect(holder, "the room's process").toBeGreaterThanOrEqual(0);
        expect((await customerWritesAt(servers[1 - holder]!, c, `where is my order ${k}?`)).status).toBe(202);
      }
      await waitFor(() => convs.every((c) => pushesTo(benWeb.id, c.id).length > 0), 60_000);
      // Every batch handled (sent or skipped) before looking for what the viewer got.
      await until(async () => {
        for (const c of convs) if ((await batchesLeft(c.id)) > 0) return false;
        return true;
      });
      await new Promise((r) => setTimeout(r, 1500));
      for (const c of convs) {
        expect(pushesTo(benWeb.id, c.id), "the collaborator not viewing: one push").toHaveLength(1);
        expect(pushesTo(benWeb.id, c.id)[0]!.payload).toMatchObject({ conversationId: c.id, count: 1, customerName: c.customerName });
        expect(pushesTo(danWeb.id, c.id), "the follower viewing through the other process: none").toEqual([]);
        // Skipped because they were viewing, not because they had read it: the message is unread for them.
        expect((await memberState(fixtures(), c.id, ID.agent))?.unreadCount).toBeGreaterThan(0);
      }
      expect(webPush.problems).toEqual([]);
    }, 180_000);

    it("[R12.1] once the member has left the conversation, the next customer message pushes to them too", async () => {
      const danWeb = await registerWeb(servers[1]!, EMAIL.agent);
      const c = await createConversation(fixtures(), { channel: "webchat", follower: ID.agent, collaborators: [ID.manager] });
      const { conn } = await openConversation(0, EMAIL.agent, c.id);
      await conn.leave();
      expect((await customerWritesAt(servers[1]!, c, "hello again")).status).toBe(202);
      await waitFor(() => pushesTo(danWeb.id, c.id).length > 0, 60_000);
      await until(async () => (await batchesLeft(c.id)) === 0);
      expect(pushesTo(danWeb.id, c.id)).toHaveLength(1);
    }, 120_000);
  });
}
