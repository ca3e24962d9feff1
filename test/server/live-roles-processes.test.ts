import { randomUUID } from "node:crypto";
import { Client, type SeatReservation, type Room } from "@colyseus/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../db/client.ts";
import { createConversation } from "../rooms/helpers.ts";
import type { ChildServer } from "../support/child.ts";
import { type Cluster, startCluster } from "../support/cluster.ts";
import { type App, Conn, EMAIL, ID, waitFor } from "../support/server.ts";

/**
 * Roles are live across processes: two real servers (child processes) on one PostgreSQL and one
 * Redis. The member's room lives in one process; the admin's role change is made over HTTP on the
 * other; the change reaches the room through the presence (docs/protocol.md §1, §2.6).
 * The same rules in one process: test/rooms/live-roles.test.ts.
 */
const enabled = Boolean(process.env.DATABASE_URL && process.env.REDIS_URL);
/** This file's Redis database (see test/support/child.ts: each file takes its own). */
const REDIS_DB = 3;

let servers: ChildServer[] = [];
let database: Database | null = null;

/** test/rooms/helpers.ts's fixtures only read `app.database`. */
const fixtures = () => ({ database }) as unknown as App;

async function http(server: ChildServer, token: string | null, method: string, path: string, body?: unknown) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as any };
}

async function signIn(server: ChildServer, email: string, password: string): Promise<string> {
  const r = await http(server, null, "POST", "/auth/login", { email, password });
  expect(r.status).toBe(200);
  return r.body.accessToken;
}

/** A fresh member created by the admin (on process 0), signed in. */
async function newMember(role: string): Promise<{ id: string; token: string }> {
  const key = randomUUID().slice(0, 8);
  const email = `live-${key}@demo.test`;
  const admin = await signIn(servers[0]!, EMAIL.admin, "demo-password");
  const r = await http(servers[0]!, admin, "POST", "/api/v2/members", { name: `Live ${key}`, email, role, password: "a-long-password-42" });
  expect(r.status).toBe(201);
  return { id: r.body.id, token: await signIn(servers[0]!, email, "a-long-password-42") };
}

/**
 * Joins a conversation wherever its room lives. Without a public address per process the seat
 * reservation does not say which process holds the room, so this does what a routing proxy would:
 * it offers the seat to each process until the one holding the room takes it (the others refuse
 * at once: the SDK logs that refusal as "closed unexpectedly (4002)"). Returns the connection and
 * the index of the process that holds the room.
 */
async function joinAnywhere(token: string, conversationId: string, view: "mine" | "team"): Promise<{ conn: Conn; holder: number }> {
  const clients = servers.map((s) => {
    const c = new Client(s.url.replace(/^http/, "ws"));
    c.auth.token = token;
    return c;
  });
  const res = await fetch(`${servers[0]!.url}/matchmake/joinOrCreate/conversation`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ conversationId, view }),
  });
  expect(res.status).toBe(200);
  const seat = (await res.json()) as SeatReservation;
  for (const [i, client] of clients.entries()) {
    let room: Room;
    try {
      room = await client.consumeSeatReservation(seat);
    } catch {
      continue; // not this process's room
    }
    const conn = new Conn(room);
    await waitFor(() => conn.state?.id === conversationId);
    return { conn, holder: i };
  }
  throw new Error(`no process holds ${conversationId}`);
}

async function setRole(on: ChildServer, memberId: string, role: string): Promise<void> {
  const admin = await signIn(on, EMAIL.admin, "demo-password");
  const r = await http(on, admin, "PATCH", `/api/v2/members/${memberId}`, { role });
  expect([r.status, r.body.role]).toEqual([200, role]);
}

if (!enabled) {
  console.warn("live roles across two processes: skipped, DATABASE_URL and REDIS_URL must both be set");
  describe.skip("live roles across two processes: skipped, DATABASE_URL and REDIS_URL must both be set", () => {
    it("needs PostgreSQL and Redis", () => {});
  });
} else {
  describe("live roles across two processes (one PostgreSQL, one Redis)", () => {
    let cluster: Cluster | null = null;
    beforeAll(async () => {
      cluster = await startCluster(REDIS_DB);
      ({ servers, database } = cluster);
    }, 200_000);
    afterAll(async () => {
      await cluster?.stop();
    });

    it("[R6.1] a cs_manager demoted on the other process: their open room refuses their next take over", async () => {
      const ben = await newMember("cs_manager");
      const c = await createConversation(fixtures(), { follower: ID.agent, collaborators: [ben.id] });
      const { conn, holder } = await joinAnywhere(ben.token, c.id, "mine");
      expect(conn.state.collaborators[0].role).toBe("cs_manager");

      await setRole(servers[1 - holder]!, ben.id, "agent");
      await waitFor(() => conn.state.collaborators[0].role === "agent");
      const r = await conn.act("take_over");
      expect([r.ok, r.code]).toEqual([false, "TAKE_OVER_NOT_ALLOWED"]);
      expect(conn.state.follower.id).toBe(ID.agent);
      expect(conn.closed).toBeNull();
      await conn.leave();
    });

    it("[R4.1] [R1.4] a supervisor demoted on the other process: their team view closes with 4105 and cannot be opened again", async () => {
      const amy = await newMember("supervisor");
      const c = await createConversation(fixtures(), { follower: ID.agent });
      const { conn, holder } = await joinAnywhere(amy.token, c.id, "team");
      expect((await conn.act("reply", { text: "before" })).ok).toBe(true); // R1.4, while a TEAM_VIEWER

      await setRole(servers[1 - holder]!, amy.id, "agent");
      await waitFor(() => conn.closed !== null);
      expect(conn.closed).toEqual({ code: 4105, reason: "view_not_allowed" });
      // R4.1: the team view (and so join and reply from it) is refused on every process.
      for (const server of servers) {
        const seat = await http(server, amy.token, "POST", "/matchmake/joinOrCreate/conversation", { conversationId: c.id, view: "team" });
        expect([seat.status, String(seat.body.error ?? seat.body.message ?? "")]).toEqual([
          403,
          expect.stringMatching(/^VIEW_NOT_ALLOWED:/),
        ]);
      }
    });
  });
}
