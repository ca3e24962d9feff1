import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type ListDelta,
  type ListItem,
  type ListQuery,
  type LoadedPage,
  applyListDelta,
  compareListItems,
  fitsTab,
} from "../../client/index.ts";
import type { Status, View } from "../../domain/sets.ts";
import type { ListDelta as ServerListDelta } from "../../rooms/liveLists.ts";

/**
 * `applyListDelta` (docs/protocol.md §8.3) against a reference: a model of one member's
 * conversations, changed at random; every change gives the delta the inbox room would send, and
 * the page with the deltas applied must equal a fresh read of the list (its first rows).
 */

interface Conv {
  id: string;
  status: Status;
  collaborative: boolean;
  lastMessageAt: number;
  waitingSince: number | null;
  pinned: boolean;
  /** The member is a participant: the conversation is in `mine`. */
  mine: boolean;
  unreadCount: number;
  version: number;
}

const BASE = Date.UTC(2026, 0, 1);
const iso = (ms: number) => new Date(BASE + ms).toISOString();

function itemOf(c: Conv): ListItem {
  return {
    id: c.id,
    status: c.status,
    kind: "direct",
    collaborative: c.collaborative,
    channel: "line",
    customer: { id: `cust-${c.id}`, name: `name ${c.id}` },
    follower: null as unknown as ListItem["follower"],
    collaborators: [],
    lastMessageAt: iso(c.lastMessageAt),
    lastMessagePreview: null,
    waitingSince: c.waitingSince === null ? null : iso(c.waitingSince),
    overdue: false,
    unreadCount: c.unreadCount,
    pinned: c.pinned,
    version: c.version,
  };
}

const inView = (view: View, c: Conv) => view === "team" || c.mine;
const placement = (c: Conv) => ({ status: c.status, type: c.collaborative ? ("collaborative" as const) : ("regular" as const) });

/** What the inbox room sends for one change of a conversation, for one view (§8.3's table). */
function deltaOf(view: View, before: Conv | undefined, after: Conv): ListDelta | null {
  const was = before !== undefined && inView(view, before);
  const is = inView(view, after);
  if (!was && !is) return null;
  const from = was ? placement(before!) : null;
  const to = is ? placement(after) : null;
  const op = !was ? "added" : !is ? "removed" : from!.status !== to!.status || from!.type !== to!.type ? "moved" : "updated";
  return { conversationId: after.id, version: after.version, view, op, from, to, item: is ? itemOf(after) : null };
}

/** The reference: a fresh read of the whole list. */
function fresh(world: Map<string, Conv>, query: ListQuery): ListItem[] {
  return [...world.values()]
    .filter((c) => inView(query.view, c))
    .map(itemOf)
    .filter((i) => fitsTab(query, i))
    .sort((a, b) => compareListItems(query, a, b));
}

const statusArb = fc.constantFrom<Status>("pending", "in_progress", "closed");
const idArb = fc.oneof(
  fc.constantFrom("a", "b", "c", "d", "e", "f", "g", "h"),
  // Odd ids: 4-byte characters, NUL, CJK (ids compare by UTF-16 units on both sides).
  fc.constantFrom("😀x", "\u0000", "你好", "a\u0000b", "ｚ"),
);
const convArb = (id: string) =>
  fc.record({
    id: fc.constant(id),
    status: statusArb,
    collaborative: fc.boolean(),
    lastMessageAt: fc.integer({ min: 0, max: 5 }).map((n) => n * 1000),
    waitingSince: fc.option(
      fc.integer({ min: 0, max: 5 }).map((n) => n * 1000),
      { nil: null },
    ),
    pinned: fc.boolean(),
    mine: fc.boolean(),
    unreadCount: fc.nat(5),
    version: fc.constant<number>(0),
  });
const worldArb: fc.Arbitrary<Conv[]> = fc.uniqueArray(idArb, { minLength: 0, maxLength: 10 }).chain((ids) => fc.tuple(...ids.map(convArb)));
const changeArb = fc.tuple(idArb, convArb("x"));
const queryArb: fc.Arbitrary<ListQuery> = fc
  .record({
    view: fc.constantFrom<View>("mine", "team"),
    status: fc.option(statusArb, { nil: undefined }),
    type: fc.constantFrom("all", "regular", "collaborative" as const),
    overdue: fc.boolean(),
  })
  .map(({ view, status, type, overdue }) => ({
    view,
    ...(status ? { status } : {}),
    type,
    // `overdue` only with an open tab (R10.3).
    sort: overdue && (status === "pending" || status === "in_progress") ? "overdue" : "last_message",
  }));

/** The server's delta, its readonly arrays made plain (the wire carries no `readonly`). */
type Plain<T> = T extends readonly (infer U)[] ? Plain<U>[] : T extends object ? { -readonly [K in keyof T]: Plain<T[K]> } : T;
/** Compile-time: what the inbox room sends (rooms/liveLists.ts) is a client `ListDelta` (`npm run typecheck` fails otherwise). */
const asClientDelta = (d: Plain<ServerListDelta>): ListDelta => d;

describe("applyListDelta (docs/protocol.md §8.3)", () => {
  it("the client's ListDelta type accepts the server's", () => {
    expect(asClientDelta).toBeTypeOf("function");
  });

  it("[R10.1] [R10.2] [R10.3] deltas applied to a loaded page equal a fresh read of the list: the same first rows, all of them when the page held the whole list", () => {
    fc.assert(
      fc.property(
        worldArb,
        queryArb,
        fc.integer({ min: 1, max: 12 }),
        fc.array(changeArb, { maxLength: 30 }),
        (convs, query, size, changes) => {
          const world = new Map(convs.map((c) => [c.id, c]));
          const first = fresh(world, query);
          let page: LoadedPage = { query, items: first.slice(0, size), complete: first.length <= size };
          for (const [id, next] of changes) {
            const before = world.get(id);
            const after = { ...next, id, version: (before?.version ?? 0) + 1 };
            world.set(id, after);
            const d = deltaOf(query.view, before, after);
            if (d) page = applyListDelta(page, d);
            const now = fresh(world, query);
            expect(page.items).toEqual(now.slice(0, page.items.length));
            if (page.complete) expect(page.items).toEqual(now);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("a delta older than the row held, or of the other view, changes nothing", () => {
    fc.assert(
      fc.property(convArb("k"), fc.integer({ min: 2, max: 100 }), fc.constantFrom<View>("mine", "team"), (c, version, view) => {
        const held = { ...c, mine: true, version };
        const query: ListQuery = { view };
        const page: LoadedPage = { query, items: [itemOf(held)], complete: true };
        const stale = deltaOf(view, held, { ...held, status: "closed", version: version - 1 })!;
        expect(applyListDelta(page, stale)).toBe(page);
        const other = { ...stale, view: view === "mine" ? ("team" as const) : ("mine" as const), version: version + 1 };
        expect(applyListDelta(page, other)).toBe(page);
      }),
    );
  });

  it("a search page keeps a row it held, takes a new one whose customer name matches, and flags one it cannot decide", () => {
    const query: ListQuery = { view: "mine", status: "in_progress", q: "NAME B" };
    const a = {
      ...itemOf({
        id: "a",
        status: "in_progress",
        collaborative: false,
        lastMessageAt: 1000,
        waitingSince: null,
        pinned: false,
        mine: true,
        unreadCount: 0,
        version: 1,
      }),
    };
    const page: LoadedPage = { query, items: [a], complete: true };
    const kept = applyListDelta(page, {
      conversationId: "a",
      version: 2,
      view: "mine",
      op: "updated",
      from: null,
      to: null,
      item: { ...a, version: 2, lastMessageAt: iso(9000) },
    });
    expect(kept.items.map((i) => i.version)).toEqual([2]);
    const b = { ...a, id: "b", customer: { id: "cb", name: "name b" }, version: 1 };
    expect(
      applyListDelta(page, { conversationId: "b", version: 1, view: "mine", op: "added", from: null, to: null, item: b }).items.map(
        (i) => i.id,
      ),
    ).toEqual(["b", "a"]);
    const c = { ...a, id: "c", customer: { id: "cc", name: "other" }, version: 1 };
    const unknown = applyListDelta(page, { conversationId: "c", version: 1, view: "mine", op: "added", from: null, to: null, item: c });
    expect(unknown.items.map((i) => i.id)).toEqual(["a"]);
    expect(unknown.searchStale).toBe(true);
  });

  it("a null item (the conversation could not be read) takes the row out", () => {
    const c: Conv = {
      id: "a",
      status: "pending",
      collaborative: false,
      lastMessageAt: 0,
      waitingSince: null,
      pinned: false,
      mine: true,
      unreadCount: 0,
      version: 1,
    };
    const page: LoadedPage = { query: { view: "mine" }, items: [itemOf(c)], complete: true };
    expect(
      applyListDelta(page, { conversationId: "a", version: 2, view: "mine", op: "updated", from: null, to: null, item: null }).items,
    ).toEqual([]);
  });
});
