import { and, eq } from "drizzle-orm";
import postgres from "postgres";
import { describe, expect, it } from "vitest";
import { type ClaimedDelivery, DELIVER_TOPIC, claimDueDeliveries, loadDeliveryTarget, recordDelivery } from "../../db/delivery.ts";
import * as s from "../../db/schema.ts";
import { advanceDelivery, DeliveryStatus, statusesMovedBy } from "../../domain/channels.ts";
import { storageKinds } from "../support/db.ts";
import { createConversation } from "../support/fixtures.ts";
import type { App } from "../support/server.ts";
import { useSeededDatabase } from "../support/storage.ts";

/**
 * The delivery worker's record of an outcome (db/delivery.ts `recordDelivery`): one statement
 * updates the outbox row and moves the message's status forward only, from the statuses the
 * domain's rule moves (`statusesMovedBy`); a status a provider's report moved further meanwhile
 * stays, and the provider's message id is kept all the same.
 */
describe("statusesMovedBy", () => {
  it("names exactly the statuses advanceDelivery changes", () => {
    const all = Object.values(DeliveryStatus);
    for (const next of all)
      for (const current of all) expect(statusesMovedBy(next).includes(current)).toBe(advanceDelivery(current, next) !== current);
  });
});

describe.each(storageKinds())("recording a delivery on %s", (kind) => {
  const store = useSeededDatabase(kind);
  const app = () => ({ database: store.database }) as unknown as App;

  /** A staff reply at seq 2 with `status`, and its `deliver_reply` row claimed. */
  async function claimedReply(status: DeliveryStatus): Promise<ClaimedDelivery> {
    const db = store.database.db;
    const f = await createConversation(app(), { channel: "line", follower: "demo-agent", texts: ["hello"] });
    await db
      .insert(s.messages)
      .values({
        conversationId: f.id,
        seq: 2,
        sender: "staff",
        senderId: "demo-agent",
        body: "hi",
        deliveryStatus: "queued",
        createdAt: new Date(),
      });
    await db.insert(s.outbox).values({
      topic: DELIVER_TOPIC,
      payload: { kind: "effect", conversationId: f.id, seq: 2, effect: { kind: "deliver_reply" } } as never,
      availableAt: new Date(Date.now() - 1000),
    });
    const claims = await claimDueDeliveries(db, { now: new Date(), leaseMs: 60_000, limit: 100 });
    const claim = claims.find((c) => c.conversationId === f.id);
    if (!claim) throw new Error("not claimed");
    if (status !== "queued")
      await db
        .update(s.messages)
        .set({ deliveryStatus: status })
        .where(and(eq(s.messages.conversationId, f.id), eq(s.messages.seq, 2)));
    return claim;
  }

  async function stored(claim: ClaimedDelivery) {
    const db = store.database.db;
    const [m] = await db
      .select()
      .from(s.messages)
      .where(and(eq(s.messages.conversationId, claim.conversationId), eq(s.messages.seq, claim.seq)));
    const [o] = await db.select().from(s.outbox).where(eq(s.outbox.id, claim.outboxId));
    return {
      status: m!.deliveryStatus,
      code: m!.deliveryCode,
      providerMessageId: m!.providerMessageId,
      attempts: o!.attempts,
      done: o!.doneAt !== null,
    };
  }

  it("a claim carries what its reply sends, exactly as loadDeliveryTarget reads it (a group chat's id, a message's parts)", async () => {
    const db = store.database.db;
    const claim = await claimedReply("queued");
    expect(claim.target).toEqual(await loadDeliveryTarget(db, claim.conversationId, claim.seq));
    expect(claim.target).toMatchObject({ status: "queued", text: "hi", parts: null, channelId: null });

    // A group conversation's reply with parts: the recipient is the group.
    const g = await createConversation(app(), { channel: "line", kind: "group", follower: "demo-agent", texts: ["hello"] });
    await db.update(s.customers).set({ channelUserId: "group:G123" }).where(eq(s.customers.id, g.customerId));
    const parts = [{ type: "text", text: "see" }, { type: "image", url: "https://example.test/a.png" }];
    await db.insert(s.messages).values({ conversationId: g.id, seq: 2, sender: "staff", senderId: "demo-agent", body: "see [image]", parts: parts as never, deliveryStatus: "queued", createdAt: new Date() });
    await db.insert(s.outbox).values({
      topic: DELIVER_TOPIC,
      payload: { kind: "effect", conversationId: g.id, seq: 2, effect: { kind: "deliver_reply" } } as never,
      availableAt: new Date(Date.now() - 1000),
    });
    const claims = await claimDueDeliveries(db, { now: new Date(), leaseMs: 60_000, limit: 100 });
    const group = claims.find((c) => c.conversationId === g.id)!;
    expect(group.target).toEqual(await loadDeliveryTarget(db, g.id, 2));
    expect(group.target).toMatchObject({ recipient: "G123", groupId: "G123", parts, text: "see [image]" });

    // A row naming a customer's message (not a reply): nothing to send, as the read says.
    await db.insert(s.outbox).values({
      topic: DELIVER_TOPIC,
      payload: { kind: "effect", conversationId: g.id, seq: 1, effect: { kind: "deliver_reply" } } as never,
      availableAt: new Date(Date.now() - 1000),
    });
    const [notReply] = (await claimDueDeliveries(db, { now: new Date(Date.now() + 120_000), leaseMs: 60_000, limit: 100 })).filter((c) => c.conversationId === g.id && c.seq === 1);
    expect(notReply?.target).toBeNull();
    expect(await loadDeliveryTarget(db, g.id, 1)).toBeNull();
  });

  it("sent moves a queued reply to sent, with the provider's id, and ends its outbox row", async () => {
    const claim = await claimedReply("queued");
    const after = await recordDelivery(store.database.db, claim, { kind: "sent", providerMessageId: "p-1" }, new Date());
    expect(after).toEqual({ status: "sent", code: null, reason: null, changed: true });
    expect(await stored(claim)).toEqual({ status: "sent", code: null, providerMessageId: "p-1", attempts: 1, done: true });
  });

  it("a reply a report already moved to read stays read on sent, keeps the provider's id; a retry leaves a sent one sent", async () => {
    const claim = await claimedReply("read");
    const after = await recordDelivery(store.database.db, claim, { kind: "sent", providerMessageId: "p-2" }, new Date());
    expect(after).toEqual({ status: "read", code: null, reason: null, changed: false });
    expect(await stored(claim)).toEqual({ status: "read", code: null, providerMessageId: "p-2", attempts: 1, done: true });

    const other = await claimedReply("sent");
    const retried = await recordDelivery(
      store.database.db,
      other,
      { kind: "retry", at: new Date(Date.now() + 60_000), error: "503" },
      new Date(),
    );
    expect(retried.changed).toBe(false);
    expect(await stored(other)).toMatchObject({ status: "sent", attempts: 1, done: false });
  });

  it("failed fails a queued reply with its code; a failed one stays failed with its first code", async () => {
    const claim = await claimedReply("queued");
    expect(await recordDelivery(store.database.db, claim, { kind: "failed", code: "LINE_REJECTED", reason: "bad" }, new Date())).toEqual({
      status: "failed",
      code: "LINE_REJECTED",
      reason: "bad",
      changed: true,
    });
    const again = await recordDelivery(store.database.db, claim, { kind: "failed", code: "OTHER", reason: "x" }, new Date());
    expect(again).toEqual({ status: "failed", code: "LINE_REJECTED", reason: "bad", changed: false });
  });

  it.skipIf(kind !== "postgres")("a report that commits while the record waits on the row's lock is not moved back", async () => {
    const claim = await claimedReply("queued");
    const other = postgres(store.url!, { max: 1 });
    try {
      let recording!: ReturnType<typeof recordDelivery>;
      await other.begin(async (tx) => {
        await tx`update messages set delivery_status = 'read' where conversation_id = ${claim.conversationId} and seq = ${claim.seq}`;
        recording = recordDelivery(store.database.db, claim, { kind: "sent", providerMessageId: "p-3" }, new Date());
        // The record waits on the row this transaction holds, and checks the row again once it is free.
        await new Promise((r) => setTimeout(r, 300));
      });
      expect(await recording).toEqual({ status: "read", code: null, reason: null, changed: false });
      expect(await stored(claim)).toMatchObject({ status: "read", providerMessageId: "p-3", done: true });
    } finally {
      await other.end();
    }
  });
});
