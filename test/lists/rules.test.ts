import { randomUUID } from "node:crypto";
import { eq, inArray, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import * as s from "../../db/schema.ts";
import { type ConversationSpec, type DemoKey, ID, NAME, api, createConversation, tokenOf } from "../rooms/helpers.ts";
import { useTestServer } from "../support/server.ts";

/**
 * The inbox lists' rules (SPEC §10, R11.6, R13.3) over HTTP on the demo workspace. Each test tags
 * its conversations' customer names with a key of its own and searches for it, so what other tests
 * of the file create cannot disturb the exact lists compared here.
 */

const app = useTestServer();

type Item = {
  id: string;
  status: string;
  collaborative: boolean;
  follower: { id: string; name: string; role: string } | null;
  collaborators: { id: string; name: string; role: string }[];
  waitingSince: string | null;
  overdue: boolean;
  unreadCount: number;
  pinned: boolean;
};

async function list(who: DemoKey | string, query: Record<string, string | undefined>) {
  const p = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined));
  return api(app, await tokenOf(app, who), `/api/v2/conversations?${p}`);
}

/** The ids of one page (status 200 asserted). */
async function ids(who: DemoKey | string, query: Record<string, string | undefined>): Promise<string[]> {
  const r = await list(who, { limit: "100", ...query });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return (r.body.items as Item[]).map((i) => i.id);
}

async function item(who: DemoKey | string, query: Record<string, string | undefined>, id: string): Promise<Item | undefined> {
  const r = await list(who, { limit: "100", ...query });
  expect(r.status).toBe(200);
  return (r.body.items as Item[]).find((i) => i.id === id);
}

function newKey(): string {
  return `k${randomUUID().slice(0, 8)}`;
}

/** A conversation whose customer name carries `key`. */
async function conv(key: string, spec: ConversationSpec & { lastMinutesAgo?: number; waitingMinutesAgo?: number | null } = {}): Promise<string> {
  const { lastMinutesAgo, waitingMinutesAgo, ...rest } = spec;
  const c = await createConversation(app, { customerName: `${key} ${randomUUID().slice(0, 4)}`, ...rest });
  const set: Partial<typeof s.conversations.$inferInsert> = {};
  if (lastMinutesAgo !== undefined) set.lastMessageAt = new Date(Date.now() - lastMinutesAgo * 60_000);
  if (waitingMinutesAgo !== undefined) set.waitingSince = waitingMinutesAgo === null ? null : new Date(Date.now() - waitingMinutesAgo * 60_000);
  if (Object.keys(set).length) await app.database.db.update(s.conversations).set(set).where(eq(s.conversations.id, c.id));
  return c.id;
}

describe("views and statuses", () => {
  it("[R10.1] mine lists the caller's participations per status; team lists the whole workspace", async () => {
    const key = newKey();
    const followed = await conv(key, { follower: ID.agent2, status: "in_progress", lastMinutesAgo: 1 });
    const pending = await conv(key, { follower: null, status: "pending", lastMinutesAgo: 2 });
    const collaborating = await conv(key, { follower: ID.manager, collaborators: [ID.agent2], status: "closed", lastMinutesAgo: 3 });
    const others = await conv(key, { follower: ID.admin, status: "in_progress", lastMinutesAgo: 4 });

    expect(await ids("agent2", { q: key })).toEqual([followed, collaborating]);
    expect(await ids("agent2", { q: key, status: "in_progress" })).toEqual([followed]);
    expect(await ids("agent2", { q: key, status: "closed" })).toEqual([collaborating]);
    expect(await ids("agent2", { q: key, status: "pending" })).toEqual([]);
    // Without a search too: the agent's own list holds its participations and nothing else of these.
    const all = await ids("agent2", {});
    expect(all).toEqual(expect.arrayContaining([followed, collaborating]));
    expect(all).not.toContain(pending);
    expect(all).not.toContain(others);

    for (const who of ["admin", "supervisor", "manager"] as const) {
      expect([who, await ids(who, { view: "team", q: key })]).toEqual([who, [followed, pending, collaborating, others]]);
      expect([who, await ids(who, { view: "team", q: key, status: "pending" })]).toEqual([who, [pending]]);
      expect([who, await ids(who, { view: "team", q: key, status: "in_progress" })]).toEqual([who, [followed, others]]);
      expect([who, await ids(who, { view: "team", q: key, status: "closed" })]).toEqual([who, [collaborating]]);
    }
    // The manager's own list holds only where Ben takes part.
    expect(await ids("manager", { q: key })).toEqual([collaborating]);
    for (const who of ["agent", "marketing"] as const) {
      const r = await list(who, { view: "team" });
      expect([who, r.status, r.body.code]).toEqual([who, 403, "VIEW_NOT_ALLOWED"]);
    }
  });

  it("[R10.1] counts per view, status and type; team counts only for TEAM_VIEWERS", async () => {
    const counts = async (who: DemoKey) => (await api(app, await tokenOf(app, who), "/api/v2/conversations/counts")).body;
    const agentBefore = await counts("agent3");
    const managerBefore = await counts("manager");
    expect(agentBefore.team).toBeNull();
    await conv(newKey(), { follower: ID.agent, collaborators: [ID.agent3], status: "in_progress" });
    await conv(newKey(), { follower: ID.agent3, status: "closed" });
    const agentAfter = await counts("agent3");
    expect(agentAfter.mine.in_progress.collaborative).toBe(agentBefore.mine.in_progress.collaborative + 1);
    expect(agentAfter.mine.closed.regular).toBe(agentBefore.mine.closed.regular + 1);
    expect(agentAfter.mine.pending).toEqual(agentBefore.mine.pending);
    expect(agentAfter.team).toBeNull();
    const managerAfter = await counts("manager");
    expect(managerAfter.mine).toEqual(managerBefore.mine);
    expect(managerAfter.team.in_progress.collaborative).toBe(managerBefore.team.in_progress.collaborative + 1);
    expect(managerAfter.team.closed.regular).toBe(managerBefore.team.closed.regular + 1);
  });

  it("[R10.2] the type filter on every tab: regular (no collaborator) or collaborative", async () => {
    const key = newKey();
    const made: Record<string, { regular: string; collaborative: string }> = {};
    let minutes = 1;
    for (const status of ["pending", "in_progress", "closed"] as const) {
      const follower = status === "pending" ? null : ID.agent;
      made[status] = {
        regular: await conv(key, { follower, status, lastMinutesAgo: minutes++ }),
        collaborative: await conv(key, { follower, collaborators: [ID.agent2], status, lastMinutesAgo: minutes++ }),
      };
    }
    for (const status of ["pending", "in_progress", "closed"] as const) {
      const { regular, collaborative } = made[status]!;
      expect(await ids("admin", { view: "team", q: key, status, type: "regular" })).toEqual([regular]);
      expect(await ids("admin", { view: "team", q: key, status, type: "collaborative" })).toEqual([collaborative]);
      expect(await ids("admin", { view: "team", q: key, status, type: "all" })).toEqual([regular, collaborative]);
      expect(await ids("admin", { view: "team", q: key, status })).toEqual([regular, collaborative]);
    }
    expect(await ids("agent2", { q: key, type: "regular" })).toEqual([]);
    expect(await ids("agent2", { q: key, type: "collaborative" })).toEqual([
      made.pending!.collaborative,
      made.in_progress!.collaborative,
      made.closed!.collaborative,
    ]);
  });
});

describe("sorting", () => {
  it("[R10.3][R13.3] pending and in_progress sort by last message or by overdue waiting, longest waiting first; closed refuses the overdue sort", async () => {
    const key = newKey();
    for (const status of ["pending", "in_progress"] as const) {
      const follower = status === "pending" ? null : ID.agent;
      const newest = await conv(key, { follower, status, lastMinutesAgo: 1, waitingMinutesAgo: 5 });
      const notWaiting = await conv(key, { follower, status, lastMinutesAgo: 2, waitingMinutesAgo: null });
      const longest = await conv(key, { follower, status, lastMinutesAgo: 3, waitingMinutesAgo: 120 });
      const middle = await conv(key, { follower, status, lastMinutesAgo: 4, waitingMinutesAgo: 40 });
      expect(await ids("manager", { view: "team", q: key, status })).toEqual([newest, notWaiting, longest, middle]);
      expect(await ids("manager", { view: "team", q: key, status, sort: "last_message" })).toEqual([newest, notWaiting, longest, middle]);
      expect(await ids("manager", { view: "team", q: key, status, sort: "overdue" })).toEqual([longest, middle, newest, notWaiting]);
      if (status === "in_progress") {
        expect(await ids("agent", { q: key, status, sort: "overdue" })).toEqual([longest, middle, newest, notWaiting]);
      }
    }
    const closed = await conv(key, { follower: ID.agent, status: "closed" });
    expect(await ids("agent", { q: key, status: "closed", sort: "last_message" })).toEqual([closed]);
    for (const query of [{ status: "closed", sort: "overdue" }, { sort: "overdue" }]) {
      const r = await list("agent", { q: key, ...query });
      expect([JSON.stringify(query), r.status, r.body.code]).toEqual([JSON.stringify(query), 400, "INVALID_PAYLOAD"]);
    }
  });

  it("[R13.3] the overdue flag follows the workspace's overdueAfterMinutes; closed conversations are never overdue", async () => {
    const key = newKey();
    const admin = await tokenOf(app, "admin");
    const twenty = await conv(key, { follower: ID.agent, status: "in_progress", waitingMinutesAgo: 20 });
    const fresh = await conv(key, { follower: ID.agent, status: "in_progress", waitingMinutesAgo: 2 });
    const closed = await conv(key, { follower: ID.agent, status: "closed", waitingMinutesAgo: 600 });
    const overdue = async () =>
      Object.fromEntries(
        await Promise.all([twenty, fresh, closed].map(async (id) => [id, (await item("agent", { q: key }, id))!.overdue] as const)),
      );
    expect(await overdue()).toEqual({ [twenty]: false, [fresh]: false, [closed]: false });
    try {
      expect((await api(app, admin, "/api/v2/workspace/settings", { method: "PATCH", body: { overdueAfterMinutes: 10 } })).status).toBe(200);
      expect(await overdue()).toEqual({ [twenty]: true, [fresh]: false, [closed]: false });
      expect((await api(app, admin, "/api/v2/workspace/settings", { method: "PATCH", body: { overdueAfterMinutes: 1 } })).status).toBe(200);
      expect(await overdue()).toEqual({ [twenty]: true, [fresh]: true, [closed]: false });
    } finally {
      await api(app, admin, "/api/v2/workspace/settings", { method: "PATCH", body: { overdueAfterMinutes: 30 } });
    }
    expect(await overdue()).toEqual({ [twenty]: false, [fresh]: false, [closed]: false });
  });

  it("[R12.2] the caller's pinned conversations come first in mine (then the chosen sort), not in team", async () => {
    const key = newKey();
    const newest = await conv(key, { follower: ID.agent3, status: "in_progress", lastMinutesAgo: 1, waitingMinutesAgo: 1 });
    const pinnedOld = await conv(key, { follower: ID.agent3, status: "in_progress", lastMinutesAgo: 50, waitingMinutesAgo: 2, pinned: [ID.agent3] });
    const pinnedByOther = await conv(key, { follower: ID.agent3, collaborators: [ID.manager], status: "in_progress", lastMinutesAgo: 30, pinned: [ID.manager] });
    expect(await ids("agent3", { q: key })).toEqual([pinnedOld, newest, pinnedByOther]);
    expect(await ids("agent3", { q: key, status: "in_progress", sort: "overdue" })).toEqual([pinnedOld, newest, pinnedByOther]);
    expect(await ids("manager", { q: key })).toEqual([pinnedByOther]);
    expect(await ids("manager", { view: "team", q: key })).toEqual([newest, pinnedByOther, pinnedOld]);
    // Paging one by one keeps the same order across the pinned / unpinned boundary.
    const paged: string[] = [];
    let cursor: string | undefined;
    do {
      const r = await list("agent3", { q: key, limit: "1", cursor });
      expect(r.status).toBe(200);
      paged.push(...(r.body.items as Item[]).map((i) => i.id));
      cursor = r.body.nextCursor ?? undefined;
    } while (cursor);
    expect(paged).toEqual([pinnedOld, newest, pinnedByOther]);
  });

  it("[R10.3] keyset paging keeps rows whose times differ only in microseconds, and ties by id", async () => {
    const key = newKey();
    const made = [await conv(key, { follower: ID.agent }), await conv(key, { follower: ID.agent }), await conv(key, { follower: ID.agent })];
    const db = app.database.db;
    // Two rows in the same millisecond (different microseconds), one tie with the second.
    await db.execute(sql`update ${s.conversations} set last_message_at = '2030-01-01T00:00:00.000900Z' where id = ${made[0]}`);
    await db.execute(sql`update ${s.conversations} set last_message_at = '2030-01-01T00:00:00.000100Z' where id in (${made[1]}, ${made[2]})`);
    const tiedDesc = [made[1]!, made[2]!].sort().reverse();
    const paged: string[] = [];
    let cursor: string | undefined;
    do {
      const r = await list("agent", { q: key, limit: "1", cursor });
      paged.push(...(r.body.items as Item[]).map((i) => i.id));
      cursor = r.body.nextCursor ?? undefined;
    } while (cursor);
    expect(paged).toEqual([made[0], ...tiedDesc]);
    await db.update(s.conversations).set({ lastMessageAt: new Date() }).where(inArray(s.conversations.id, made));
  });
});

describe("items", () => {
  it("[R10.4] items carry the follower and the collaborators in order, with names and roles", async () => {
    const key = newKey();
    const id = await conv(key, { follower: ID.agent, collaborators: [ID.agent3, ID.manager, ID.marketing] });
    const it1 = await item("agent", { q: key }, id);
    expect(it1?.follower).toEqual({ id: ID.agent, name: NAME.agent, role: "agent" });
    expect(it1?.collaborators).toEqual([
      { id: ID.agent3, name: NAME.agent3, role: "agent" },
      { id: ID.manager, name: NAME.manager, role: "cs_manager" },
      { id: ID.marketing, name: NAME.marketing, role: "marketing_cs" },
    ]);
    expect(it1?.collaborative).toBe(true);
    const pending = await conv(key, { follower: null, status: "pending" });
    const it2 = await item("admin", { view: "team", q: key }, pending);
    expect([it2?.follower, it2?.collaborators, it2?.collaborative]).toEqual([null, [], false]);
  });

  it("[R11.6] each item carries only the caller's own unread count and pin", async () => {
    const key = newKey();
    const id = await conv(key, {
      follower: ID.agent,
      collaborators: [ID.agent2],
      unread: { [ID.agent]: 3, [ID.agent2]: 0, [ID.admin]: 7 },
      pinned: [ID.agent2],
    });
    const seen = async (who: DemoKey, view: "mine" | "team") => {
      const i = await item(who, { view, q: key }, id);
      return { unreadCount: i?.unreadCount, pinned: i?.pinned };
    };
    expect(await seen("agent", "mine")).toEqual({ unreadCount: 3, pinned: false });
    expect(await seen("agent2", "mine")).toEqual({ unreadCount: 0, pinned: true });
    expect(await seen("manager", "team")).toEqual({ unreadCount: 0, pinned: false });
    expect(await seen("admin", "team")).toEqual({ unreadCount: 7, pinned: false });
  });
});

describe("search", () => {
  it("[R10.5] q finds a customer's name or a customer or staff message (Chinese substrings too), within the view; system messages do not count", async () => {
    const key = newKey();
    const db = app.database.db;
    const byName = await conv(key, { follower: ID.agent, customerName: `Zoë ${key} Walker` });
    const byText = await conv(key, { follower: ID.agent, texts: [`請問${key}訂單編號查詢`] });
    const byStaff = await conv(key, { follower: ID.agent, texts: ["hi"] });
    await db.insert(s.messages).values({ conversationId: byStaff, seq: 2, sender: "staff", senderId: ID.agent, body: `已幫您處理${key}退款`, createdAt: new Date() });
    const bySystem = await conv(key, { follower: ID.agent, texts: ["hi"] });
    await db.insert(s.messages).values({ conversationId: bySystem, seq: 2, sender: "system", body: `系統${key}退款`, createdAt: new Date() });
    const elsewhere = await conv(key, { follower: ID.admin, texts: [`${key}訂單編號`] });
    // Names of these conversations do not carry the key, except byName's: rename the others.
    await db
      .update(s.customers)
      .set({ displayName: "某位客人" })
      .where(
        inArray(
          s.customers.id,
          (await db.select({ id: s.conversations.customerId }).from(s.conversations).where(inArray(s.conversations.id, [byText, byStaff, bySystem, elsewhere]))).map(
            (r) => r.id,
          ),
        ),
      );

    const search = async (q: string, who: DemoKey = "agent", view = "mine") => (await ids(who, { view, q })).sort();
    expect(await search(`zoë ${key.toUpperCase()} WALKER`)).toEqual([byName]);
    expect(await search(`${key} walker`)).toEqual([byName]);
    expect(await search(`${key}訂單`)).toEqual([byText]);
    expect(await search(`${key}訂單`, "admin", "team")).toEqual([byText, elsewhere].sort());
    expect(await search(`${key}訂單`, "admin", "mine")).toEqual([elsewhere]);
    expect(await search(`${key}退款`)).toEqual([byStaff]);
    expect(await search("訂單編號查詢")).toEqual(expect.arrayContaining([byText]));
    expect(await search(`  ${key}退款  `)).toEqual([byStaff]);
  });

  it("[R10.5] q is a plain substring: % and _ match themselves", async () => {
    const key = newKey();
    const percent = await conv(key, { follower: ID.agent, customerName: `${key} 100%_off` });
    const plain = await conv(key, { follower: ID.agent, customerName: `${key} 100xyoff` });
    expect(await ids("agent", { q: `${key} 100%_off` })).toEqual([percent]);
    expect(await ids("agent", { q: `${key} 100__off` })).toEqual([]);
    expect(await ids("agent", { q: `${key} 100%off` })).toEqual([]);
    expect((await ids("agent", { q: `${key} 100` })).sort()).toEqual([percent, plain].sort());
  });
});

describe("bad queries", () => {
  it("malformed query values are 400 INVALID_PAYLOAD; a garbled cursor or one from another query is 400 INVALID_CURSOR", async () => {
    const bad: Record<string, string>[] = [
      { limit: "0" },
      { limit: "abc" },
      { limit: "101" },
      { limit: "1.5" },
      { view: "x" },
      { status: "open" },
      { type: "group" },
      { sort: "x" },
      { q: "" },
      { q: "   " },
      { q: "x".repeat(101) },
      { cursor: "x".repeat(1001) },
    ];
    for (const query of bad) {
      const r = await list("manager", query);
      expect([query, r.status, r.body.code]).toEqual([query, 400, "INVALID_PAYLOAD"]);
    }
    const key = newKey();
    await conv(key, { follower: ID.manager });
    await conv(key, { follower: ID.manager });
    const first = await list("manager", { q: key, limit: "1" });
    const cursor = first.body.nextCursor as string;
    expect(typeof cursor).toBe("string");
    expect((await list("manager", { q: key, limit: "1", cursor })).status).toBe(200);
    // The limit may change between pages; anything else may not.
    expect((await list("manager", { q: key, limit: "5", cursor })).status).toBe(200);
    const forged = (data: unknown) => Buffer.from(JSON.stringify(data)).toString("base64url");
    const original = JSON.parse(Buffer.from(cursor, "base64url").toString());
    const refused: [string, Record<string, string>][] = [
      ["garbage", { q: key, cursor: "garbage!" }],
      ["not JSON", { q: key, cursor: Buffer.from("nope").toString("base64url") }],
      ["another view", { q: key, cursor, view: "team" }],
      ["another status", { q: key, cursor, status: "in_progress" }],
      ["another type", { q: key, cursor, type: "regular" }],
      ["another sort", { q: key, cursor, status: "in_progress", sort: "overdue" }],
      ["another q", { q: `${key}x`, cursor }],
      ["no q", { cursor }],
      ["a bad time", { q: key, cursor: forged({ ...original, k: "yesterday'; drop table x" }) }],
      ["no id", { q: key, cursor: forged({ ...original, id: undefined }) }],
    ];
    for (const [what, query] of refused) {
      const r = await list("manager", query);
      expect([what, r.status, r.body.code]).toEqual([what, 400, "INVALID_CURSOR"]);
    }
  });
});
