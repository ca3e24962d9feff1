import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { applyDelta, type Page, type Sort, type TypeFilter } from "../../web/src/list.ts";
import type { ListDelta, ListItem, Status, View } from "../../web/src/types.ts";

/**
 * The console's live list (web/src/list.ts): a whole list kept by the inbox room's deltas alone ends
 * equal to the list read afresh (docs/protocol.md §8.3, the order of §7.3), whatever the changes, and
 * a stale delta (an older version) changes nothing. The order is written here again, independently.
 */

const STATUSES: Status[] = ["pending", "in_progress", "closed"];

interface Row {
  id: string;
  status: Status;
  collaborative: boolean;
  pinned: boolean;
  lastMessageAt: number;
  waitingSince: number | null;
  inList: boolean;
  version: number;
}

function item(r: Row): ListItem {
  return {
    id: r.id,
    status: r.status,
    kind: "direct",
    collaborative: r.collaborative,
    channel: "webchat",
    customer: { id: `cust-${r.id}`, name: r.id },
    follower: null,
    collaborators: [],
    lastMessageAt: new Date(r.lastMessageAt).toISOString(),
    lastMessagePreview: "",
    waitingSince: r.waitingSince === null ? null : new Date(r.waitingSince).toISOString(),
    overdue: false,
    unreadCount: 0,
    pinned: r.pinned,
    version: r.version,
  };
}

/** The list as a fresh read would give it. */
function fresh(rows: Row[], view: View, status: Status, type: TypeFilter, sort: Sort): string[] {
  const kept = rows.filter((r) => r.inList && r.status === status && (type === "all" || r.collaborative === (type === "collaborative")));
  const key = (r: Row) => {
    const pin = view === "mine" && r.pinned ? 0 : 1;
    if (sort === "overdue") return [pin, r.waitingSince === null ? 1 : 0, r.waitingSince ?? 0] as const;
    return [pin, 0, -r.lastMessageAt] as const;
  };
  return kept
    .sort((a, b) => {
      const ka = key(a);
      const kb = key(b);
      for (let i = 0; i < 3; i++) if (ka[i] !== kb[i]) return (ka[i] as number) - (kb[i] as number);
      return sort === "overdue" ? a.id.localeCompare(b.id) : b.id.localeCompare(a.id);
    })
    .map((r) => r.id);
}

const rowArb = (id: string) =>
  fc.record({
    id: fc.constant(id),
    status: fc.constantFrom(...STATUSES),
    collaborative: fc.boolean(),
    pinned: fc.boolean(),
    lastMessageAt: fc.integer({ min: 0, max: 6 }).map((m) => 1_700_000_000_000 + m * 60_000),
    waitingSince: fc.option(fc.integer({ min: 0, max: 6 }).map((m) => 1_700_000_000_000 + m * 60_000)),
    inList: fc.boolean(),
    version: fc.constant(1),
  });

const changeArb = fc.record({
  at: fc.nat(),
  status: fc.option(fc.constantFrom(...STATUSES)),
  collaborative: fc.option(fc.boolean()),
  pinned: fc.option(fc.boolean()),
  message: fc.option(fc.integer({ min: 0, max: 8 })),
  inList: fc.option(fc.boolean()),
});

describe("the console's live list (web/src/list.ts)", () => {
  it("a whole list kept by deltas equals a fresh read, for every view, tab, type filter and sort (§8.3)", () => {
    fc.assert(
      fc.property(
        fc
          .array(fc.nat(), { minLength: 1, maxLength: 12 })
          .chain((ns) => fc.tuple(...ns.map((_, i) => rowArb(`c${String(i).padStart(2, "0")}`)))),
        fc.array(changeArb, { maxLength: 40 }),
        fc.constantFrom<View>("mine", "team"),
        fc.constantFrom(...STATUSES),
        fc.constantFrom<TypeFilter>("all", "regular", "collaborative"),
        fc.constantFrom<Sort>("last_message", "overdue"),
        (initial, changes, view, status, type, sort) => {
          const rows: Row[] = initial.map((r) => ({ ...r }));
          const byId = new Map(rows.map((r) => [r.id, r]));
          let page: Page = {
            view,
            status,
            type,
            sort,
            q: "",
            items: fresh(rows, view, status, type, sort).map((id) => item(byId.get(id)!)),
            nextCursor: null,
          };
          for (const c of changes) {
            const r = rows[c.at % rows.length]!;
            const before = r.inList
              ? { status: r.status, type: r.collaborative ? ("collaborative" as const) : ("regular" as const) }
              : null;
            if (c.status !== null) r.status = c.status;
            if (c.collaborative !== null) r.collaborative = c.collaborative;
            if (c.pinned !== null) r.pinned = c.pinned;
            if (c.message !== null) r.lastMessageAt = 1_700_000_000_000 + c.message * 60_000;
            if (c.inList !== null && view === "mine") r.inList = c.inList; // team: never removed
            r.version += 1;
            const to = r.inList ? { status: r.status, type: r.collaborative ? ("collaborative" as const) : ("regular" as const) } : null;
            if (!before && !to) continue;
            const op = !before ? "added" : !to ? "removed" : before.status !== to.status || before.type !== to.type ? "moved" : "updated";
            const d: ListDelta = { conversationId: r.id, version: r.version, view, op, from: before, to, item: r.inList ? item(r) : null };
            page = applyDelta(page, d);
          }
          expect(page.items.map((i) => i.id)).toEqual(fresh(rows, view, status, type, sort));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("a stale delta (an older version than held) changes nothing; another view's delta is ignored", () => {
    const held = item({
      id: "a",
      status: "in_progress",
      collaborative: false,
      pinned: false,
      lastMessageAt: 2,
      waitingSince: null,
      inList: true,
      version: 5,
    });
    const page: Page = { view: "mine", status: "in_progress", type: "all", sort: "last_message", q: "", items: [held], nextCursor: null };
    const older = { ...held, status: "closed" as const, version: 4 };
    const move = { status: "in_progress" as const, type: "regular" as const };
    expect(
      applyDelta(page, {
        conversationId: "a",
        version: 4,
        view: "mine",
        op: "moved",
        from: move,
        to: { ...move, status: "closed" },
        item: older,
      }),
    ).toBe(page);
    expect(applyDelta(page, { conversationId: "a", version: 6, view: "team", op: "removed", from: move, to: null, item: null })).toBe(page);
  });

  it("with a later page not loaded, an item sorting after the last row is left out; under a search, a conversation not shown only raises the hint", () => {
    const row = (id: string, minute: number) =>
      item({
        id,
        status: "pending",
        collaborative: false,
        pinned: false,
        lastMessageAt: minute,
        waitingSince: null,
        inList: true,
        version: 1,
      });
    const page: Page = {
      view: "team",
      status: "pending",
      type: "all",
      sort: "last_message",
      q: "",
      items: [row("b", 10), row("a", 5)],
      nextCursor: "next",
    };
    const late = row("z", 1);
    const to = { status: "pending" as const, type: "regular" as const };
    expect(
      applyDelta(page, { conversationId: "z", version: 1, view: "team", op: "added", from: null, to, item: late }).items.map((i) => i.id),
    ).toEqual(["b", "a"]);
    const early = row("y", 20);
    expect(
      applyDelta(page, { conversationId: "y", version: 1, view: "team", op: "added", from: null, to, item: early }).items.map((i) => i.id),
    ).toEqual(["y", "b", "a"]);
    const searched = applyDelta(
      { ...page, q: "refund" },
      { conversationId: "y", version: 1, view: "team", op: "added", from: null, to, item: early },
    );
    expect(searched.items.map((i) => i.id)).toEqual(["b", "a"]);
    expect(searched.newResults).toBe(true);
  });
});
