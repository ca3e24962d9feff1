import { randomUUID } from "node:crypto";
import * as s from "../../db/schema.ts";
import { Auth } from "../../server/auth.ts";
import { Client, type Room, type SeatReservation } from "@colyseus/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../db/client.ts";
import { type ChildServer, killAllChildren, killHard } from "../support/child.ts";
import { type Cluster, startCluster } from "../support/cluster.ts";
import { type App, Conn, EMAIL, ID, waitFor } from "../support/server.ts";
import { WEBCHAT, conversationRow, createConversation, eventRows, messageRows } from "../rooms/helpers.ts";

/**
 * Three real server processes, each announcing its own `PUBLIC_ADDRESS`, on one PostgreSQL and
 * one Redis (README, "Several processes"; docs/protocol.md §2.8). Clients join through any
 * process's matchmaker and the SDK connects to the process holding the room.
 */
const enabled = Boolean(process.env.DATABASE_URL && process.env.REDIS_URL);
/** This file's Redis database (test/support/child.ts: each file takes its own). */
const REDIS_DB = 14;

let cluster: Cluster | null = null;
let servers: ChildServer[] = [];
let database: Database | null = null;
const rooms: Room[] = [];
/** test/rooms/helpers.ts's fixtures only read `app.database`. */
const fixtures = () => ({ database }) as unknown as App;
/** One sign-in per member and process, shared by concurrent callers (failed sign-ins are rate limited per account, and a sign-in takes a point while it runs). */
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

/** The process a seat reservation sends the SDK to (its `publicAddress`). */
function holderOf(seat: SeatReservation): number {
  const i = servers.findIndex((s) => s.url === `http://${seat.publicAddress}`);
  expect(i, `publicAddress ${seat.publicAddress}`).toBeGreaterThanOrEqual(0);
  return i;
}

/** Joins `room` through process `via`'s matchmaker, as an SDK client of that process would. */
async function joinVia(via: number, email: string, name: string, options: Record<string, unknown>): Promise<{ room: Room; seat: SeatReservation; holder: number }> {
  const token = await signIn(servers[via]!, email);
  const res = await fetch(`${servers[via]!.url}/matchmake/joinOrCreate/${name}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(options),
  });
  if (res.status !== 200) throw new Error(`matchmake ${res.status}: ${await res.text()}`);
  const seat = (await res.json()) as SeatReservation;
  const client = new Client(servers[via]!.url.replace(/^http/, "ws"));
  client.auth.token = token;
  const room = await client.consumeSeatReservation(seat);
  rooms.push(room);
  return { room, seat, holder: holderOf(seat) };
}

async function openConversation(via: number, email: string, conversationId: string, view: "mine" | "team" = "mine") {
  const { room, seat, holder } = await joinVia(via, email, "conversation", { conversationId, view });
  const conn = new Conn(room);
  await waitFor(() => conn.state?.id === conversationId, 15_000);
  return { conn, seat, holder };
}

function webchatAt(server: ChildServer, c: { channelUserId: string; customerName: string }, messageId: string, text: string) {
  return fetch(`${server.url}/channels/webchat/${WEBCHAT.channelId}/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-channel-secret": WEBCHAT.secret },
    body: JSON.stringify({ messageId, customer: { id: c.channelUserId, name: c.customerName }, text }),
  });
}

if (!enabled) {
  describe.skip("three processes: skipped, DATABASE_URL and REDIS_URL must both be set", () => {
    it("needs PostgreSQL and Redis", () => {});
  });
} else {
  describe("three processes on one PostgreSQL and one Redis, each with its PUBLIC_ADDRESS", () => {
    beforeAll(async () => {
      cluster = await startCluster(REDIS_DB, 3, { publicAddress: true, env: { ONLINE_TTL_SECONDS: "3", JOB_POLL_MS: "500" } });
      ({ servers, database } = cluster);
    }, 240_000);
    afterAll(async () => {
      // A room already closed never answers a leave: each gets a moment, then the processes go.
      await Promise.all(rooms.map((r) => Promise.race([r.leave().catch(() => {}), new Promise((ok) => setTimeout(ok, 1000))])));
      if (cluster) await cluster.stop();
      else await killAllChildren(); // the start failed half-way: never leave a process behind
    }, 60_000);

    it("0 failed joins with clients spread over three processes; one room per conversation cluster-wide", async () => {
      const conversations = [];
      for (let k = 0; k < 12; k++) conversations.push(await createConversation(fixtures(), { follower: ID.agent, collaborators: [ID.manager] }));
      // Every conversation is joined three times at once, through the three processes: the racing
      // joinOrCreate calls must find or create one room, and every seat must be taken.
      const attempts = conversations.flatMap((c, k) => [
        openConversation(k % 3, EMAIL.agent, c.id),
        openConversation((k + 1) % 3, EMAIL.manager, c.id),
        openConversation((k + 2) % 3, EMAIL.agent, c.id),
      ]);
      const settled = await Promise.allSettled(attempts);
      const failed = settled.filter((s) => s.status === "rejected").map((s) => String((s as PromiseRejectedResult).reason));
      expect(failed, "failed joins").toEqual([]);
      const joined = settled.map((s) => (s as PromiseFulfilledResult<Awaited<ReturnType<typeof openConversation>>>).value);
      for (let k = 0; k < conversations.length; k++) {
        const three = joined.slice(3 * k, 3 * k + 3);
        // One room: the same room id and process for every seat, and each client sees the others' actions.
        expect(new Set(three.map((j) => `${j.seat.processId}/${j.seat.roomId}`)).size).toBe(1);
        expect(three[0]!.seat.roomId).toBe(conversations[k]!.id);
      }
      const [a, b] = joined;
      expect((await a!.conn.act("reply", { text: "seen by every seat" })).ok).toBe(true);
      await waitFor(() => b!.conn.state.messages.some((m: { body: string }) => m.body === "seen by every seat"));
      for (const j of joined) await j.conn.leave();
    }, 120_000);

    it("[R1.1] [R1.2] 200 racing add-collaborator actions from clients on three processes never make six collaborators or two followers", async () => {
      const candidates = [ID.supervisor, ID.manager, ID.marketing, ID.agent, ID.agent2, ID.agent3];
      const conversations = [];
      for (let k = 0; k < 10; k++) conversations.push(await createConversation(fixtures(), { follower: ID.admin, collaborators: [] }));
      const conns: { c: (typeof conversations)[number]; jess: Conn[]; managers: Conn[] }[] = [];
      for (const [k, c] of conversations.entries()) {
        const jess = await Promise.all([0, 1, 2].map((via) => openConversation(via, EMAIL.admin, c.id).then((o) => o.conn)));
        // Two TEAM_VIEWERS from the team view race to join and take over (R4.1, R6.1).
        const managers = await Promise.all([
          openConversation(k % 3, EMAIL.supervisor, c.id, "team").then((o) => o.conn),
          openConversation((k + 1) % 3, EMAIL.manager, c.id, "team").then((o) => o.conn),
        ]);
        conns.push({ c, jess, managers });
      }
      let seed = 7;
      const rand = (n: number) => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed % n;
      };
      // Sent without waiting (answers counted on each connection's `results`): the races are real.
      const sent: { conn: Conn; type: string; requestId: string }[] = [];
      const fire = (conn: Conn, type: string, payload: Record<string, unknown> = {}) => {
        const requestId = `${type}-${sent.length}`;
        sent.push({ conn, type, requestId });
        conn.room.send(type, { ...payload, requestId });
      };
      for (let i = 0; i < 200; i++) {
        const { jess, managers } = conns[i % conns.length]!;
        const size = 1 + rand(3);
        // Every twentieth asks for all six at once: past five, refused whole (R1.2) whatever raced it.
        const ids = i % 20 === 0 ? candidates : [...new Set(Array.from({ length: size }, () => candidates[rand(candidates.length)]!))];
        fire(jess[rand(3)]!, "add_collaborators", { memberIds: ids });
        if (i % 10 === 0) {
          for (const m of managers) {
            fire(m, "join");
            fire(m, "take_over");
          }
        }
      }
      const answerOf = (s: (typeof sent)[number]) => s.conn.results.filter((r) => r.requestId === s.requestId);
      await waitFor(() => sent.every((s) => answerOf(s).length > 0), 180_000);
      const answers = sent.map((s) => {
        const got = answerOf(s);
        expect(got.length, `${s.requestId} answered once`).toBe(1);
        return { type: s.type === "add_collaborators" ? "add" : s.type, r: got[0]! };
      });
      for (const { r } of answers) expect(["STORAGE_UNAVAILABLE", "INTERNAL", "VERSION_CONFLICT"]).not.toContain(r.code);
      expect(answers.filter((a) => a.type === "add" && a.r.code === "COLLABORATOR_LIMIT").length, "some adds refused whole").toBeGreaterThan(0);
      expect(answers.filter((a) => a.type === "add" && a.r.ok).length, "some adds accepted").toBeGreaterThan(0);

      for (const { c, jess, managers } of conns) {
        const row = await conversationRow(fixtures(), c.id);
        expect(row.collaboratorIds.length, "R1.1 at most five collaborators").toBeLessThanOrEqual(5);
        expect(new Set(row.collaboratorIds).size).toBe(row.collaboratorIds.length);
        expect(row.followerId, "R1.1 one follower").toBeTruthy();
        expect(row.collaboratorIds, "the follower is not also a collaborator").not.toContain(row.followerId);
        // R1.2 replayed from the log: no accepted add or join ever went past five.
        const log = await eventRows(fixtures(), c.id);
        let count = 0;
        for (const e of log) {
          if (e.kind === "collaborators_added") count += e.targetIds.length;
          else if (e.kind === "joined") count += 1;
          else if (e.kind === "collaborators_removed") count -= e.targetIds.length;
          else if (e.kind === "left") count -= 1;
          expect(count).toBeLessThanOrEqual(5);
        }
        // Every connection, on whichever process it joined through, shows the stored state.
        for (const conn of [...jess, ...managers]) {
          if (conn.closed) continue;
          await waitFor(() => conn.state.version === row.version, 30_000);
          expect(conn.state.follower?.id).toBe(row.followerId);
          expect(conn.state.collaborators.map((m: { id: string }) => m.id)).toEqual(row.collaboratorIds);
        }
      }
      for (const { jess, managers } of conns) for (const conn of [...jess, ...managers]) await conn.leave();
    }, 300_000);

    it("a webhook at process C and a bulk job at process B reach the room living in process A", async () => {
      const c = await createConversation(fixtures(), { follower: ID.agent, collaborators: [], channel: "webchat" });
      const { conn, holder: A } = await openConversation(0, EMAIL.agent, c.id);
      const [B, C] = [(A + 1) % 3, (A + 2) % 3];
      expect((await webchatAt(servers[C]!, c, `via-c-${c.id}`, "written to process C")).status).toBeLessThan(300);
      await waitFor(() => conn.state.messages.some((m: { body: string }) => m.body === "written to process C"), 15_000);
      const token = await signIn(servers[B]!, EMAIL.agent);
      const res = await fetch(`${servers[B]!.url}/api/v2/bulk/close`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ conversationIds: [c.id], view: "mine" }),
      });
      expect(res.status).toBeLessThan(300);
      await waitFor(() => conn.state.status === "closed", 30_000);
      expect((await conversationRow(fixtures(), c.id)).status).toBe("closed");
      await conn.leave();
    }, 120_000);

    it("kill -9 of process A: nothing acknowledged is lost, the room comes back elsewhere at the next join, A's clients rejoin and catch up without gap or duplicate; A's members are swept offline", async () => {
      const c = await createConversation(fixtures(), { follower: ID.agent, collaborators: [ID.manager], channel: "webchat" });
      const { conn: dan, holder: A } = await openConversation(0, EMAIL.agent, c.id);
      const [B, C] = [(A + 1) % 3, (A + 2) % 3];
      const ben = (await openConversation(B, EMAIL.manager, c.id)).conn;
      // Members online through A (their inbox room lives there) and through the other processes.
      const onA: string[] = [];
      const elsewhere: string[] = [];
      for (const [key, email] of Object.entries(EMAIL)) {
        const { holder } = await joinVia(C, email, "inbox", { memberId: ID[key as keyof typeof ID] });
        (holder === A ? onA : elsewhere).push(ID[key as keyof typeof ID]);
      }
      // Where a new room goes is Colyseus's choice (the process with the fewest rooms): when none of
      // the demo members' inbox rooms went to A, more members sign in until one does.
      for (let extra = 0; onA.length === 0 && extra < 40; extra++) {
        const id = `m-x${extra}-${randomUUID().slice(0, 6)}`;
        await database!.db.insert(s.members).values({ id, workspaceId: "demo", name: `Extra ${extra}`, email: `${id}@test.test`, role: "agent", locale: "en", passwordHash: await Auth.hashPassword("demo-password") });
        const { holder } = await joinVia(C, `${id}@test.test`, "inbox", { memberId: id });
        (holder === A ? onA : elsewhere).push(id);
      }
      expect(onA.length, "some inbox rooms placed on A").toBeGreaterThan(0);
      dan.room.reconnection.maxRetries = 1; // A is gone: give up on it quickly and rejoin (docs/protocol.md §2.8)
      ben.room.reconnection.maxRetries = 1;
      const child = servers[A]!.child;

      // Dan sends 30 replies without waiting; A dies when the tenth answer arrives.
      const sent = Array.from({ length: 30 }, (_, i) => `dan-${i}`);
      let answered = 0;
      const killed = new Promise<void>((resolve) => {
        dan.room.onMessage("result", () => {
          if (++answered === 10) void killHard(child).then(resolve);
        });
      });
      for (const [i, id] of sent.entries()) dan.room.send("reply", { requestId: id, text: `reply ${i}` });
      await killed;
      const lastSeen = dan.state.lastSeq as number;
      const acked = dan.results.filter((r) => r.ok && r.requestId?.startsWith("dan-")).map((r) => r.requestId!);
      expect(acked.length).toBeGreaterThanOrEqual(10);
      await waitFor(() => dan.closed !== null && ben.closed !== null, 60_000);

      // Every acknowledged action is stored.
      const storedAfterKill = (await messageRows(fixtures(), c.id)).map((m) => m.requestId);
      for (const id of acked) expect(storedAfterKill).toContain(id);

      // The next join (through B) finds A dead and brings the room back in a live process.
      const benAgain = await openConversation(B, EMAIL.manager, c.id);
      expect(benAgain.holder).not.toBe(A);
      for (let i = 0; i < 3; i++) expect((await benAgain.conn.act("reply", { text: `ben while dan is away ${i}` })).ok).toBe(true);
      for (let i = 0; i < 3; i++) expect((await webchatAt(servers[C]!, c, `away-${c.id}-${i}`, `customer while away ${i}`)).status).toBeLessThan(300);

      // Dan rejoins through C, resends what was not answered (same request ids), and catches up.
      const danAgain = (await openConversation(C, EMAIL.agent, c.id)).conn;
      expect(danAgain.state.id).toBe(c.id);
      const unanswered = sent.filter((id) => !dan.results.some((r) => r.requestId === id));
      for (const id of unanswered) {
        const r = await danAgain.act("reply", { requestId: id, text: `reply ${sent.indexOf(id)}` });
        expect(r.ok).toBe(true);
      }
      const seqs: number[] = [];
      let after = lastSeen;
      for (;;) {
        const page = await danAgain.act("catch_up", { afterSeq: after, limit: 7 });
        expect(page.ok).toBe(true);
        const got = [...(page.messages as { seq: number }[]), ...(page.events as { seq: number }[])].map((e) => e.seq);
        for (const s of got) expect(s).toBeGreaterThan(after);
        seqs.push(...got);
        after = page.throughSeq as number;
        if (!page.more) break;
      }
      expect(after).toBe(danAgain.state.lastSeq);
      const stored = [...(await messageRows(fixtures(), c.id)).map((m) => m.seq), ...(await eventRows(fixtures(), c.id)).map((e) => e.seq)]
        .filter((s) => s > lastSeen && s <= after)
        .sort((x, y) => x - y);
      expect(seqs.sort((x, y) => x - y), "every entry after the last seen seq, exactly once").toEqual(stored);
      expect(new Set(seqs).size).toBe(seqs.length);
      // Each of Dan's replies is stored once, whether it was answered before the kill or resent after.
      const mine = (await messageRows(fixtures(), c.id)).filter((m) => m.requestId?.startsWith("dan-")).map((m) => m.requestId);
      expect(mine.sort()).toEqual([...sent].sort());

      // The team room (opened on a live process) shows A's members offline once A's heartbeat expired.
      const team = (await joinVia(B, EMAIL.admin, "team", { workspaceId: "demo" })).room;
      const online = (id: string) => (team.state as any)?.members?.get(id)?.online as boolean | undefined;
      await waitFor(() => onA.every((id) => online(id) === false) && elsewhere.every((id) => online(id) === true), 30_000);
    }, 240_000);
  });
}
