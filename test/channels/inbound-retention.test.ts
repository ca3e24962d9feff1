import { inArray } from "drizzle-orm";
import pino from "pino";
import { expect, it } from "vitest";
import { insertInboundEvents } from "../../db/inbound.ts";
import * as s from "../../db/schema.ts";
import { Intake } from "../../server/channels/intake.ts";
import { channelRows } from "../support/channelRows.ts";
import { WEBCHAT } from "../support/demo.ts";
import { useTestServer } from "../support/server.ts";

/** Retention of `inbound_events` (issue 9): processed events go after 30 days; unprocessed ones stay. */

const app = useTestServer();
const DAY = 86_400_000;

it("the processor deletes events processed more than 30 days ago, and keeps recent and unprocessed ones", async () => {
  const db = app.database.db;
  // On the real clock, less 40 days: the server's own processor (real clock) cleans up too, and must agree.
  const t0 = Date.now() - 40 * DAY;
  const ids = (n: number, prefix: string) =>
    Array.from({ length: n }, (_, i) => ({ providerEventId: `${prefix}-${i}`, payload: { kind: "ignored" } }));
  // Stored due far ahead, so the server's own processor never claims them before they are marked processed here.
  const never = new Date(t0 + 1000 * DAY);
  const old = await insertInboundEvents(db, WEBCHAT.channelId, ids(1500, "old"), never);
  const recent = await insertInboundEvents(db, WEBCHAT.channelId, ids(3, "recent"), never);
  // Unprocessed for ever (e.g. a status report never matched): never deleted, however old; due far in the future so no processor picks it.
  await insertInboundEvents(db, WEBCHAT.channelId, ids(2, "unprocessed"), never);
  // One statement each (1,500 single updates took a minute on a loaded machine).
  const processedAt = (rows: readonly { id: number }[], at: Date) =>
    db
      .update(s.inboundEvents)
      .set({ processedAt: at })
      .where(
        inArray(
          s.inboundEvents.id,
          rows.map((r) => r.id),
        ),
      );
  await processedAt(old, new Date(t0));
  await processedAt(recent, new Date(t0 + 20 * DAY));

  let clock = t0 + 40 * DAY; // now: old were processed 40 days ago; recent 20
  const intake = new Intake({ db, presence: app.presence, log: pino({ level: "silent" }), now: () => new Date(clock) });
  intake.kick();
  await intake.idle();
  const left = (await channelRows(app).storedEvents(WEBCHAT.channelId)).map((e) => e.providerEventId);
  expect(left.filter((id) => id.startsWith("old-"))).toEqual([]); // 1,500: more than one batch
  expect(left.filter((id) => id.startsWith("recent-"))).toHaveLength(3);
  expect(left.filter((id) => id.startsWith("unprocessed-"))).toHaveLength(2);

  // Eleven days later the recent ones are past their 30 days too.
  clock += 11 * DAY;
  intake.kick();
  await intake.idle();
  expect((await channelRows(app).storedEvents(WEBCHAT.channelId)).filter((e) => e.providerEventId.startsWith("recent-"))).toHaveLength(0);
  await intake.stop();
});
