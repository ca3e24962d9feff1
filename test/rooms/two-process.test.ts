import { Client, type SeatReservation, type Room } from "@colyseus/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../db/client.ts";
import type { ChildServer } from "../support/child.ts";
import { type Cluster, startCluster } from "../support/cluster.ts";
import { type App, Conn, EMAIL, ID, waitFor } from "../support/server.ts";
import { WEBCHAT, createConversation, messageRows } from "./helpers.ts";

/**
 * Two real server processes on one PostgreSQL and one Redis, racing: members connected to rooms
 * held by either process act at once, customer messages for the same conversations arrive over
 * HTTP on both processes, and some requests are sent twice. Every request with a request id is
 * answered exactly once, and exactly the accepted replies are stored (docs/protocol.md §2.3).
 */
const enabled = Boolean(process.env.DATABASE_URL && process.env.REDIS_URL);
/** This file's Redis database (test/support/child.ts: each file takes its own). */
const REDIS_DB = 2;

let servers: ChildServer[] = [];
let database: Database | null = null;
const rooms: Room[] = [];

/** test/rooms/helpers.ts's fixtures only read `app.database`. */
const fixtures = () => ({ database }) as unknown as App;

async function signIn(server: ChildServer, email: string): Promise<string> {
  const res = await fetch(`${server.url}/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password: "demo-password" }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { accessToken: string }).accessToken;
}

/**
 * Joins through `via`'s matchmaker, then offers the seat to each process until the one holding
 * the room takes it (what a routing proxy does; docs/protocol.md §2.1). Returns the process index.
 */
async function join(via: number, token: string, conversationId: string): Promise<{ conn: Conn; holder: number }> {
  const res = await fetch(`${servers[via]!.url}/matchmake/joinOrCreate/conversation`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ conversationId, view: "mine" }),
  });
  expect(res.status).toBe(200);
  const seat = (await res.json()) as SeatReservation;
  for (const [i, server] of servers.entries()) {
    const client = new Client(server.url.replace(/^http/, "ws"));
    client.auth.token = token;
    let room: Room;
    try {
      room = await client.consumeSeatReservation(seat);
    } catch {
      continue;
    }
    rooms.push(room);
    const conn = new Conn(room);
    await waitFor(() => conn.state?.id === conversationId);
    return { conn, holder: i };
  }
  throw new Error(`no process holds ${conversationId}`);
}

/** Sends without waiting (a request may be sent twice); answers are counted on `conn.results`. */
function fire(conn: Conn, type: string, requestId: string, payload: Record<string, unknown> = {}): void {
  conn.room.send(type, { ...payload, requestId });
}

if (!enabled) {
  describe.skip("racing actions on two processes: skipped, DATABASE_URL and REDIS_URL must both be set", () => {
    it("needs PostgreSQL and Redis", () => {});
  });
} else {
  describe("racing actions on two processes (one PostgreSQL, one Redis)", () => {
    let cluster: Cluster | null = null;
    beforeAll(async () => {
      cluster = await startCluster(REDIS_DB);
      ({ servers, database } = cluster);
    }, 200_000);
    afterAll(async () => {
      await Promise.all(rooms.map((r) => r.leave().catch(() => {})));
      await cluster?.stop();
    });

    it("[R6.1] [R11.1] every request with a request id is answered exactly once; exactly the accepted replies are stored", async () => {
      const tokens = [
        { dan: await signIn(servers[0]!, EMAIL.agent), ben: await signIn(servers[0]!, EMAIL.manager) },
        { dan: await signIn(servers[1]!, EMAIL.agent), ben: await signIn(servers[1]!, EMAIL.manager) },
      ];
      const conversations = [];
      for (let k = 0; k < 4; k++) {
        conversations.push(await createConversation(fixtures(), { follower: ID.agent, collaborators: [ID.manager], channel: "webchat" }));
      }
      // Dan and Ben on every conversation, each joining through one process or the other.
      const joined = [];
      for (const [k, c] of conversations.entries()) {
        const dan = await join(k % 2, tokens[k % 2]!.dan, c.id);
        const ben = await join((k + 1) % 2, tokens[(k + 1) % 2]!.ben, c.id);
        expect(ben.holder).toBe(dan.holder);
        joined.push({ c, dan: dan.conn, ben: ben.conn, holder: dan.holder });
      }
      expect(new Set(joined.map((j) => j.holder)).size, "rooms on both processes").toBe(2);

      const expected = new Map<Conn, Map<string, number>>();
      const expect1 = (conn: Conn, id: string, times = 1) => {
        const m = expected.get(conn) ?? new Map<string, number>();
        m.set(id, (m.get(id) ?? 0) + times);
        expected.set(conn, m);
      };
      const customer: Promise<number>[] = [];
      for (const [k, { c, dan, ben }] of joined.entries()) {
        for (let i = 0; i < 8; i++) {
          fire(dan, "reply", `d-${k}-${i}`, { text: `dan ${i}` });
          expect1(dan, `d-${k}-${i}`);
          fire(ben, "reply", `b-${k}-${i}`, { text: `ben ${i}` });
          expect1(ben, `b-${k}-${i}`);
          if (i === 3) {
            fire(ben, "take_over", `b-${k}-take`); // R6.1: Ben (cs_manager collaborator) becomes follower
            expect1(ben, `b-${k}-take`);
            fire(dan, "pin", `d-${k}-pin`);
            expect1(dan, `d-${k}-pin`);
          }
          if (i === 5) {
            // A retry racing its original: two answers, one of them `duplicate`.
            fire(dan, "reply", `d-${k}-again`, { text: "twice" });
            fire(dan, "reply", `d-${k}-again`, { text: "twice" });
            expect1(dan, `d-${k}-again`, 2);
            fire(ben, "history", `b-${k}-history`, { limit: 5 });
            expect1(ben, `b-${k}-history`);
          }
          // R11.1: customer messages for the same conversation through both processes' HTTP.
          const server = servers[i % 2]!;
          customer.push(
            fetch(`${server.url}/channels/webchat/${WEBCHAT.channelId}/messages`, {
              method: "POST",
              headers: { "content-type": "application/json", "x-channel-secret": WEBCHAT.secret },
              body: JSON.stringify({ messageId: `cm-${k}-${i}`, customer: { id: c.channelUserId, name: c.customerName }, text: `customer ${i}` }),
            }).then((r) => r.status),
          );
        }
      }

      const statuses = await Promise.all(customer);
      expect(statuses.every((s) => s >= 200 && s < 300), `customer message statuses ${statuses}`).toBe(true);
      for (const [conn, ids] of expected) {
        const want = [...ids.values()].reduce((a, b) => a + b, 0);
        await waitFor(() => conn.results.length >= want, 30_000);
      }
      // Nothing late: one more request per connection is answered, then the counts are exact.
      for (const conn of expected.keys()) expect((await conn.act("mark_read")).ok).toBe(true);
      await new Promise((r) => setTimeout(r, 300));
      for (const [conn, ids] of expected) {
        const counts = new Map<string, number>();
        for (const r of conn.results) if (r.requestId && ids.has(r.requestId)) counts.set(r.requestId, (counts.get(r.requestId) ?? 0) + 1);
        expect(Object.fromEntries(counts)).toEqual(Object.fromEntries(ids));
        for (const r of conn.results) expect(["STORAGE_UNAVAILABLE", "INTERNAL"]).not.toContain(r.code);
        expect(conn.closed).toBeNull();
      }

      for (const { c, dan, ben } of joined) {
        const rows = await messageRows(fixtures(), c.id);
        for (const conn of [dan, ben]) {
          const senderId = conn === dan ? ID.agent : ID.manager;
          const acceptedNew = conn.results.filter((r) => r.ok && !r.duplicate && r.requestId && /^[db]-\d+-(\d+|again)$/.test(r.requestId)).map((r) => r.requestId);
          const stored = rows.filter((m) => m.sender === "staff" && m.senderId === senderId).map((m) => m.requestId);
          expect(stored.sort()).toEqual(acceptedNew.sort());
        }
        const again = dan.results.filter((r) => r.requestId?.endsWith("-again"));
        expect(again.map((r) => Boolean(r.duplicate)).sort()).toEqual([false, true]);
        expect(rows.filter((m) => m.sender === "customer" && m.body?.startsWith("customer ")).length).toBe(8);
        // R6.1: the take over was accepted once, whatever raced it.
        await waitFor(() => ben.state.follower?.id === ID.manager);
      }
    }, 120_000);
  });
}
