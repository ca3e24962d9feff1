import { beforeAll, describe, expect, it } from "vitest";
import * as s from "../../db/schema.ts";
import { DEFAULT_SETTINGS } from "../../domain/model.ts";
import type { Channel, Role, Status } from "../../domain/sets.ts";
import { api, tokenOf } from "../rooms/helpers.ts";
import { useTestServer } from "../support/server.ts";
import { seeded } from "../support/random.ts";

/**
 * The lists against a plain model: a randomized data set (seeded PRNG, `LISTS_SEED` to replay) is
 * written straight to the database in a workspace of its own, then every list a few members can ask
 * for is paged through over HTTP with a small limit, following `nextCursor`, and compared with a JS
 * filter + sort over the generated data. The demo workspace's conversations must never appear.
 */

const SEED = Number(process.env.LISTS_SEED ?? 20_240_611);
const WS = "rand-ws";
const N = 170;
const LIMIT = 7;
const OVERDUE_MINUTES = DEFAULT_SETTINGS.overdueAfterMinutes;

/** The seeded generator with the picks this test needs. */
function prng(seed: number) {
  const next = seeded(seed);
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!,
    chance: (p: number) => next() < p,
  };
}

interface MemberSpec {
  id: string;
  name: string;
  role: Role;
}
const MEMBERS: MemberSpec[] = [
  { id: "rm-0", name: "Ada", role: "admin" },
  { id: "rm-1", name: "Bo", role: "supervisor" },
  { id: "rm-2", name: "Cy", role: "cs_manager" },
  { id: "rm-3", name: "Di", role: "marketing_cs" },
  { id: "rm-4", name: "Ed", role: "agent" },
  { id: "rm-5", name: "Flo", role: "agent" },
  { id: "rm-6", name: "Gus", role: "agent" },
  { id: "rm-7", name: "小華", role: "agent" },
];
const VIEWERS = { admin: "rm-0", manager: "rm-2", agent: "rm-4" } as const;

const NAMES = ["Apple Chen", "王小明", "陳訂單", "Maria", "pineapple fan", "李雷", "SNAPPLE", "Lily", "林小姐", "Bob"];
const BODIES = ["hello", "I bought an Apple watch", "訂單編號 A1234", "請問營業時間？", "ok 謝謝", "APPLE!", "where is my order", "我的訂單還沒到"];
const SEARCHES = ["apple", "訂單", "營業時間", "Maria"];

interface Msg {
  sender: "customer" | "staff" | "system";
  body: string;
}
interface Conv {
  id: string;
  customerId: string;
  customerName: string;
  channel: Channel;
  status: Status;
  kind: "direct" | "group";
  followerId: string | null;
  collaboratorIds: string[];
  lastMessageAt: Date;
  waitingSince: Date | null;
  messages: Msg[];
  /** Per member: unread and pin. */
  states: Map<string, { unread: number; pinned: boolean }>;
}

function generate(now: number): Conv[] {
  const r = prng(SEED);
  const channels: Channel[] = ["whatsapp", "line", "facebook", "instagram", "wechat", "webchat"];
  // Few distinct times, so ties on the sort keys are common and the id decides.
  const lastTimes = Array.from({ length: 25 }, (_, i) => new Date(now - (i * 37 + 1) * 60_000));
  // Waiting minutes far from the threshold (30), so the overdue flag cannot flip while the test runs.
  const waits = [1, 5, 12, 18, 45, 90, 240, 1440];
  const out: Conv[] = [];
  for (let i = 0; i < N; i++) {
    const id = `rc-${String(i).padStart(4, "0")}`;
    const status = r.pick<Status>(["pending", "in_progress", "in_progress", "closed"]);
    const followerId = status === "pending" ? (r.chance(0.1) ? r.pick(MEMBERS).id : null) : r.chance(0.95) ? r.pick(MEMBERS).id : null;
    const pool = MEMBERS.map((m) => m.id).filter((m) => m !== followerId);
    const collaboratorIds: string[] = [];
    if (r.chance(0.45)) {
      const n = 1 + r.int(5);
      while (collaboratorIds.length < n) {
        const m = r.pick(pool);
        if (!collaboratorIds.includes(m)) collaboratorIds.push(m);
      }
    }
    const open = status !== "closed";
    const waitingSince = (open && r.chance(0.65)) || (!open && r.chance(0.1)) ? new Date(now - r.pick(waits) * 60_000) : null;
    const messages: Msg[] = Array.from({ length: r.int(4) }, () => ({
      sender: r.pick<Msg["sender"]>(["customer", "customer", "staff", "system"]),
      body: r.pick(BODIES),
    }));
    const states = new Map<string, { unread: number; pinned: boolean }>();
    for (const m of MEMBERS) {
      const participant = m.id === followerId || collaboratorIds.includes(m.id);
      if (r.chance(participant ? 0.6 : 0.15)) states.set(m.id, { unread: r.int(6), pinned: r.chance(0.3) });
    }
    out.push({
      id,
      customerId: `rcust-${i}`,
      customerName: r.pick(NAMES),
      channel: r.pick(channels),
      status,
      kind: r.chance(0.15) ? "group" : "direct",
      followerId,
      collaboratorIds,
      lastMessageAt: r.pick(lastTimes),
      waitingSince,
      messages,
      states,
    });
  }
  return out;
}

const app = useTestServer();
let data: Conv[];
let now: number;

beforeAll(async () => {
  const db = app.database.db;
  now = Date.now();
  data = generate(now);
  await db.insert(s.workspaces).values({ id: WS, name: "Randomized", settings: DEFAULT_SETTINGS });
  await db.insert(s.members).values(
    MEMBERS.map((m) => ({ id: m.id, workspaceId: WS, name: m.name, email: `${m.id}@rand.test`, role: m.role, passwordHash: "not-a-login" })),
  );
  await db
    .insert(s.customers)
    .values(data.map((c) => ({ id: c.customerId, workspaceId: WS, displayName: c.customerName, channel: c.channel, channelUserId: c.customerId })));
  await db.insert(s.conversations).values(
    data.map((c) => ({
      id: c.id,
      workspaceId: WS,
      customerId: c.customerId,
      channel: c.channel,
      kind: c.kind,
      status: c.status,
      followerId: c.followerId,
      collaboratorIds: c.collaboratorIds,
      lastSeq: c.messages.length,
      lastMessageAt: c.lastMessageAt,
      lastMessagePreview: c.messages.at(-1)?.body ?? null,
      waitingSince: c.waitingSince,
      closedAt: c.status === "closed" ? c.lastMessageAt : null,
    })),
  );
  const messages = data.flatMap((c) =>
    c.messages.map((m, i) => ({
      conversationId: c.id,
      seq: i + 1,
      sender: m.sender,
      senderId: m.sender === "customer" ? c.customerId : m.sender === "staff" ? (c.followerId ?? "rm-0") : null,
      body: m.body,
      requestId: `rq-${c.id}-${i}`,
      createdAt: c.lastMessageAt,
    })),
  );
  if (messages.length) await db.insert(s.messages).values(messages);
  const states = data.flatMap((c) =>
    [...c.states].map(([memberId, st]) => ({
      memberId,
      conversationId: c.id,
      unreadCount: st.unread,
      pinned: st.pinned,
      pinnedAt: st.pinned ? c.lastMessageAt : null,
    })),
  );
  if (states.length) await db.insert(s.memberConversationState).values(states);
});

interface Query {
  view: "mine" | "team";
  status?: Status;
  type: "all" | "regular" | "collaborative";
  sort: "last_message" | "overdue";
  q?: string;
}

/** The model: what the list must hold, in order. */
function expected(viewerId: string, q: Query): Conv[] {
  const needle = q.q?.toLowerCase();
  const rows = data.filter(
    (c) =>
      (q.view === "team" || c.followerId === viewerId || c.collaboratorIds.includes(viewerId)) &&
      (!q.status || c.status === q.status) &&
      (q.type === "all" || (q.type === "collaborative") === c.collaboratorIds.length > 0) &&
      (!needle ||
        c.customerName.toLowerCase().includes(needle) ||
        c.messages.some((m) => m.sender !== "system" && m.body.toLowerCase().includes(needle))),
  );
  const pinned = (c: Conv) => (q.view === "mine" && c.states.get(viewerId)?.pinned ? 1 : 0);
  const cmpId = (a: Conv, b: Conv) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  return rows.sort((a, b) => {
    const p = pinned(b) - pinned(a);
    if (p) return p;
    if (q.sort === "last_message") return b.lastMessageAt.getTime() - a.lastMessageAt.getTime() || -cmpId(a, b);
    const wa = a.waitingSince?.getTime() ?? Number.POSITIVE_INFINITY;
    const wb = b.waitingSince?.getTime() ?? Number.POSITIVE_INFINITY;
    return wa === wb ? cmpId(a, b) : wa < wb ? -1 : 1;
  });
}

/** Every page of a list, following nextCursor. */
async function pageThrough(viewerId: string, q: Query): Promise<any[]> {
  const token = await tokenOf(app, viewerId);
  const params = new URLSearchParams({ view: q.view, type: q.type, sort: q.sort, limit: String(LIMIT) });
  if (q.status) params.set("status", q.status);
  if (q.q) params.set("q", q.q);
  const items: any[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 100; page++) {
    const p = new URLSearchParams(params);
    if (cursor) p.set("cursor", cursor);
    const r = await api(app, token, `/api/v2/conversations?${p}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.items.length).toBeLessThanOrEqual(LIMIT);
    items.push(...r.body.items);
    cursor = r.body.nextCursor;
    if (!cursor) return items;
    expect(r.body.items.length).toBe(LIMIT);
  }
  throw new Error("more than 100 pages");
}

function describeQuery(viewerId: string, q: Query): string {
  return `seed=${SEED} viewer=${viewerId} ${JSON.stringify(q)}`;
}

const STATUS_SORTS: { status?: Status; sort: Query["sort"] }[] = [
  { sort: "last_message" },
  { status: "pending", sort: "last_message" },
  { status: "pending", sort: "overdue" },
  { status: "in_progress", sort: "last_message" },
  { status: "in_progress", sort: "overdue" },
  { status: "closed", sort: "last_message" },
];

describe(`lists against a model (seed ${SEED})`, () => {
  const cases: [string, string, Query["view"]][] = [
    ["agent", VIEWERS.agent, "mine"],
    ["manager", VIEWERS.manager, "mine"],
    ["manager", VIEWERS.manager, "team"],
    ["admin", VIEWERS.admin, "mine"],
    ["admin", VIEWERS.admin, "team"],
  ];
  for (const [who, viewerId, view] of cases) {
    it(`[R10.1][R10.2][R10.3][R10.4][R10.5][R11.6][R13.3] ${who} (${viewerId}) ${view}: every status × type × sort × search, paged by ${LIMIT}`, async () => {
      const r = prng(SEED + viewerId.length + view.length);
      const threshold = now - OVERDUE_MINUTES * 60_000;
      const members = new Map(MEMBERS.map((m) => [m.id, m]));
      let compared = 0;
      for (const { status, sort } of STATUS_SORTS) {
        for (const type of ["all", "regular", "collaborative"] as const) {
          for (const q of [undefined, r.pick(SEARCHES)]) {
            const query: Query = { view, status, type, sort, q };
            const label = describeQuery(viewerId, query);
            const want = expected(viewerId, query);
            const got = await pageThrough(viewerId, query);
            expect(got.map((i) => i.id), label).toEqual(want.map((c) => c.id));
            for (const [k, item] of got.entries()) {
              const c = want[k]!;
              const st = c.states.get(viewerId);
              expect(
                {
                  unreadCount: item.unreadCount,
                  pinned: item.pinned,
                  overdue: item.overdue,
                  follower: item.follower,
                  collaborators: item.collaborators,
                  customer: item.customer.name,
                  waitingSince: item.waitingSince,
                },
                `${label} item ${c.id}`,
              ).toEqual({
                unreadCount: st?.unread ?? 0,
                pinned: st?.pinned ?? false,
                overdue: c.status !== "closed" && c.waitingSince !== null && c.waitingSince.getTime() <= threshold,
                follower: c.followerId ? members.get(c.followerId) : null,
                collaborators: c.collaboratorIds.map((id) => members.get(id)),
                customer: c.customerName,
                waitingSince: c.waitingSince?.toISOString() ?? null,
              });
            }
            compared += want.length;
          }
        }
      }
      // The data set must make the comparison meaningful: something was listed.
      expect(compared).toBeGreaterThan(50);
    });
  }

  it("the data set exercises what the lists distinguish (ties, nulls, pins, searches, Chinese)", () => {
    const key = (c: Conv) => c.lastMessageAt.getTime();
    expect(new Set(data.map(key)).size).toBeLessThan(data.length / 2);
    expect(data.filter((c) => c.status !== "closed" && c.waitingSince === null).length).toBeGreaterThan(5);
    expect(data.filter((c) => [...c.states.values()].some((s) => s.pinned)).length).toBeGreaterThan(10);
    expect(data.filter((c) => c.collaboratorIds.length === 5).length).toBeGreaterThan(0);
    expect(data.filter((c) => c.messages.some((m) => m.sender === "system" && m.body.includes("訂單"))).length).toBeGreaterThan(0);
  });
});
