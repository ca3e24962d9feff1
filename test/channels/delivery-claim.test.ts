import fc from "fast-check";
import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { DELIVER_TOPIC, claimDueDeliveries } from "../../db/delivery.ts";
import * as s from "../../db/schema.ts";
import { storageKinds } from "../support/db.ts";
import { useSeededDatabase } from "../support/storage.ts";

/**
 * Which deliveries a claim takes (db/delivery.ts `claimDueDeliveries`): of each conversation only
 * its FIRST pending `deliver_reply` row (lowest seq, whatever its availability: a reply waiting for
 * a retry holds back the later ones), and of those the available ones, oldest row first, at most
 * `limit`. Checked against a model over random queues — many conversations, pending and done rows,
 * rows leased into the future — as the worker's hot statement is rewritten for speed.
 */
describe.each(storageKinds())("claiming deliveries on %s", (kind) => {
  const store = useSeededDatabase(kind);

  const row = fc.record({
    conversation: fc.integer({ min: 0, max: 5 }),
    seq: fc.integer({ min: 1, max: 30 }),
    done: fc.boolean(),
    later: fc.boolean(), // available only in the future (leased, or waiting for a retry)
  });

  it("takes exactly the first pending row of each conversation that is due, oldest first, up to the limit", async () => {
    const db = store.database.db;
    const now = new Date("2030-01-01T00:00:00Z");
    let round = 0;
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(row, { selector: (r) => `${r.conversation}/${r.seq}`, maxLength: 25 }), fc.integer({ min: 1, max: 8 }), async (rows, limit) => {
        round++;
        await db.delete(s.outbox).where(eq(s.outbox.topic, DELIVER_TOPIC));
        const inserted =
          rows.length === 0
            ? []
            : await db
                .insert(s.outbox)
                .values(
                  rows.map((r) => ({
                    topic: DELIVER_TOPIC,
                    payload: { kind: "effect", conversationId: `claim-${round}-${r.conversation}`, seq: r.seq, effect: { kind: "deliver_reply" } } as never,
                    availableAt: new Date(now.getTime() + (r.later ? 60_000 : -60_000)),
                    doneAt: r.done ? now : null,
                  })),
                )
                .returning({ id: s.outbox.id });
        const ids = inserted.map((r) => r.id);
        // The model: per conversation the pending row of lowest seq; those due; by id; the first `limit`.
        const first = new Map<number, number>();
        rows.forEach((r, i) => {
          if (r.done) return;
          const held = first.get(r.conversation);
          if (held === undefined || rows[held]!.seq > r.seq) first.set(r.conversation, i);
        });
        const expected = [...first.values()]
          .filter((i) => !rows[i]!.later)
          .map((i) => ids[i]!)
          .sort((a, b) => a - b)
          .slice(0, limit);
        const claimed = await claimDueDeliveries(db, { now, leaseMs: 30_000, limit });
        expect(claimed.map((c) => c.outboxId)).toEqual(expected);
        for (const c of claimed) expect(c.target).toBeNull(); // no message behind these rows
        // Leased: a second claim at the same instant takes none of them again.
        const again = await claimDueDeliveries(db, { now, leaseMs: 30_000, limit: 100 });
        expect(again.filter((c) => expected.includes(c.outboxId))).toEqual([]);
      }),
      { numRuns: kind === "pglite" ? 40 : 80 },
    );
    await db.execute(sql`delete from outbox where topic = ${DELIVER_TOPIC}`);
  });
});
