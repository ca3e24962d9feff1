import { type IRoomCache, LocalDriver, initializeRoomCache } from "@colyseus/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { conversationRoomId, inboxRoomId, roomIdOf, teamRoomId, webchatRoomId } from "../../rooms/roomIds.ts";
import { FixedIdLocalDriver } from "../../server/roomDrivers.ts";

/**
 * The matchmaker's lookups by our fixed room ids (server/roomDrivers.ts) answer exactly what
 * Colyseus's own scan answers, for every kind of condition the matchmaker sends.
 */

const NAMES = ["conversation", "inbox", "team", "webchat"] as const;
const OPTION = { conversation: "conversationId", inbox: "memberId", team: "workspaceId", webchat: "visitorId" } as const;
const ID = { conversation: conversationRoomId, inbox: inboxRoomId, team: teamRoomId, webchat: webchatRoomId } as const;

function listing(name: (typeof NAMES)[number], key: string, extra: Partial<IRoomCache> = {}): IRoomCache {
  return initializeRoomCache({ name, roomId: ID[name](key), processId: "p1", metadata: { [OPTION[name]]: key }, ...extra });
}

describe("room lookups by fixed id", () => {
  it("roomIdOf names the one room a join's conditions can match, and nothing otherwise", () => {
    expect(roomIdOf({ name: "conversation", locked: false, private: false, conversationId: "c1" })).toBe("c1");
    expect(roomIdOf({ name: "inbox", memberId: "m1" })).toBe("inbox-m1");
    expect(roomIdOf({ name: "team", workspaceId: "w1" })).toBe("team-w1");
    expect(roomIdOf({ name: "webchat", visitorId: "v1" })).toBe("webchat_v1");
    expect(roomIdOf({ roomId: "any" })).toBe("any");
    expect(roomIdOf({ name: "inbox" })).toBeUndefined(); // no filter option: a scan
    expect(roomIdOf({ name: "inbox", memberId: 5 })).toBeUndefined(); // not a string: a scan (finds nothing)
    expect(roomIdOf({ name: "lobby", memberId: "m1" })).toBeUndefined();
    expect(roomIdOf({ processId: "p1" })).toBeUndefined();
  });

  it("FixedIdLocalDriver.findOne, has, query and remove answer as the stock LocalDriver's, through inserts, persists, locks and removals", async () => {
    const key = fc.constantFrom("a", "b", "c");
    const name = fc.constantFrom(...NAMES);
    const op = fc.oneof(
      fc.record({ kind: fc.constant("insert" as const), name, key, locked: fc.boolean(), private: fc.boolean() }),
      fc.record({ kind: fc.constant("remove" as const), name, key }),
      fc.record({ kind: fc.constant("persist" as const), name, key }),
      fc.record({ kind: fc.constant("lock" as const), name, key }),
    );
    const query = fc.oneof(
      fc.record({ name, key, withLocked: fc.boolean() }).map(({ name, key, withLocked }) => ({
        name,
        ...(withLocked ? { locked: false, private: false } : {}),
        [OPTION[name]]: key,
      })),
      fc.record({ name, key }).map(({ name, key }) => ({ roomId: ID[name](key) })),
      fc.record({ name, key }).map(({ name, key }) => ({ name, roomId: ID[name](key), locked: false })),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 30 }), fc.array(query, { minLength: 1, maxLength: 10 }), async (ops, queries) => {
        const ours = new FixedIdLocalDriver();
        const stock = new LocalDriver();
        for (const o of ops) {
          const answers: unknown[] = [];
          for (const d of [ours, stock]) {
            if (o.kind === "insert") answers.push(await d.insert(listing(o.name, o.key, { locked: o.locked, private: o.private })));
            else if (o.kind === "remove") answers.push(d.remove(ID[o.name](o.key)));
            else if (o.kind === "persist") answers.push(d.has(ID[o.name](o.key)) ? "skipped" : d.persist(listing(o.name, o.key), true));
            else {
              const room = await d.findOne({ roomId: ID[o.name](o.key) });
              if (room) d.update(room, { $set: { locked: true } });
            }
          }
          expect([o, answers[0]]).toEqual([o, answers[1]]);
        }
        const ids = (d: LocalDriver) => d.query({}).map((r) => `${r.roomId}:${r.locked}`).sort();
        expect(ids(ours)).toEqual(ids(stock));
        for (const n of NAMES) for (const k of ["a", "b", "c"]) expect(ours.has(ID[n](k))).toBe(stock.has(ID[n](k)));
        for (const q of queries) {
          const a = await ours.findOne(q as Partial<IRoomCache>);
          const b = await stock.findOne(q as Partial<IRoomCache>);
          expect([q, a?.roomId, a?.locked]).toEqual([q, b?.roomId, b?.locked]);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("clear() forgets every listing", async () => {
    const d = new FixedIdLocalDriver();
    await d.insert(listing("inbox", "m1"));
    expect((await d.findOne({ name: "inbox", memberId: "m1" } as Partial<IRoomCache>))?.roomId).toBe("inbox-m1");
    d.clear();
    expect(await d.findOne({ name: "inbox", memberId: "m1" } as Partial<IRoomCache>)).toBeUndefined();
  });
});
