import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { claimDueDeliveries } from "../../db/delivery.ts";
import type { RetryPolicy } from "../../domain/delivery.ts";
import { loadAccount } from "../../server/channels/accounts.ts";
import { LINE_API_DEFAULT_BASE_URL, useLineApiBaseUrl } from "../../server/channels/line/client.ts";
import { lineSender } from "../../server/channels/line/outbound.ts";
import { defaultSenders } from "../../server/channels/senders.ts";
import { DeliveryWorker, retryKeyOf } from "../../server/delivery.ts";
import { FakeLine } from "../support/fakes/line.ts";
import { connect } from "../support/rooms.ts";
import { type Conn, useTestServer, waitFor } from "../support/server.ts";
import { createLineAccount, deliveryRow, lineConversation } from "./delivery-support.ts";

/**
 * Retries, ordering and at-least-once (issue 9, item 5), with the delivery worker on a clock the
 * test moves: the server's own worker is stopped, and workers of the same class run on the same
 * database against a local fake of LINE's Messaging API. Jitter is fixed at 0.5 of the ceiling.
 */

const app = useTestServer();
let fake: FakeLine;
let clock = Date.now();
const policy: RetryPolicy = { maxAttempts: 3, baseMs: 10_000, capMs: 60_000 };
const LEASE_MS = 30_000;

function worker(): DeliveryWorker {
  return new DeliveryWorker({
    db: app.database.db,
    log: app.log,
    now: () => new Date(clock),
    senders: defaultSenders(() => app.presence, app.database.db),
    loadAccount: (db, id) => loadAccount(db, id),
    policy,
    leaseMs: LEASE_MS,
    pollMs: 1000,
    random: () => 0.5,
  });
}

beforeAll(async () => {
  await app.delivery.stop(); // this file's workers run on the test's clock
  fake = await FakeLine.start([]);
  useLineApiBaseUrl(fake.url);
});
afterAll(async () => {
  useLineApiBaseUrl(LINE_API_DEFAULT_BASE_URL);
  await fake.stop();
});

async function setup() {
  const account = await createLineAccount(app);
  fake.tokens.add(account.token);
  const conv = await lineConversation(app, account);
  const conn = await connect(app, "admin", conv.id);
  return { account, conv, conn };
}

const pushesTo = (user: string) =>
  fake.requests.filter((r) => r.path === "/v2/bot/message/push" && (r.body as { to?: string }).to === user);
const acceptedTo = (user: string) => fake.pushes.filter((p) => p.to === user).map((p) => p.texts[0]);
/** The test's clock catches up with the real one (rows are due from the database's own `now()`). */
const catchUp = () => {
  clock = Math.max(clock, Date.now() + 1000);
};
const deliveryOf = (conn: Conn, seq: number) => conn.state.messages.find((m: { seq: number }) => m.seq === seq);

describe("delivery retries and order (server/delivery.ts, domain/delivery.ts)", () => {
  it("a 5xx is retried after the backoff, not before; a second reply sent meanwhile waits and goes out after the first, in seq order", async () => {
    const { conv, conn } = await setup();
    const w = worker();
    fake.fail("push", { status: 503 });
    const a = (await conn.act("reply", { text: "first" })).seq as number;
    const b = (await conn.act("reply", { text: "second" })).seq as number;
    catchUp();

    await w.drainAll();
    expect(pushesTo(conv.lineUser)).toHaveLength(1); // the first, refused; the second held back
    expect(await deliveryRow(app, conv.id, a)).toMatchObject({ status: "queued" });
    expect(await deliveryRow(app, conv.id, b)).toMatchObject({ status: "queued" });

    clock += 0.5 * policy.baseMs - 1;
    await w.drainAll();
    expect(pushesTo(conv.lineUser)).toHaveLength(1);

    clock += 1;
    await w.drainAll();
    expect(acceptedTo(conv.lineUser)).toEqual(["first", "second"]);
    const keys = pushesTo(conv.lineUser).map((r) => r.headers["x-line-retry-key"]);
    expect(keys).toEqual([retryKeyOf(conv.id, a), retryKeyOf(conv.id, a), retryKeyOf(conv.id, b)]); // the same key on the retry
    await waitFor(() => deliveryOf(conn, a)?.delivery === "sent" && deliveryOf(conn, b)?.delivery === "sent");
    expect(await deliveryRow(app, conv.id, b)).toMatchObject({ status: "sent" });
  });

  it("a 429 with Retry-After is not retried before it, even when the backoff is shorter", async () => {
    const { conv, conn } = await setup();
    const w = worker();
    fake.fail("push", { status: 429, retryAfter: "120" });
    const a = (await conn.act("reply", { text: "patient" })).seq as number;
    catchUp();
    await w.drainAll();
    clock += 119_999;
    await w.drainAll();
    expect(pushesTo(conv.lineUser)).toHaveLength(1);
    expect(await deliveryRow(app, conv.id, a)).toMatchObject({ status: "queued" });
    clock += 1;
    await w.drainAll();
    expect(acceptedTo(conv.lineUser)).toEqual(["patient"]);
    await waitFor(() => deliveryOf(conn, a)?.delivery === "sent");
  });

  it("transient failures every time end `failed` DELIVERY_RETRIES_EXHAUSTED after maxAttempts sends; the next reply then goes out", async () => {
    const { conv, conn } = await setup();
    const w = worker();
    fake.fail("push", { status: 500 }, policy.maxAttempts);
    const a = (await conn.act("reply", { text: "doomed" })).seq as number;
    const b = (await conn.act("reply", { text: "after" })).seq as number;
    catchUp();
    for (let i = 0; i < policy.maxAttempts; i++) {
      await w.drainAll();
      clock += policy.capMs;
    }
    expect(pushesTo(conv.lineUser)).toHaveLength(policy.maxAttempts + 1);
    expect(await deliveryRow(app, conv.id, a)).toMatchObject({ status: "failed", code: "DELIVERY_RETRIES_EXHAUSTED" });
    expect((await deliveryRow(app, conv.id, a))?.reason).toContain("LINE_UNAVAILABLE");
    expect(acceptedTo(conv.lineUser)).toEqual(["after"]);
    await waitFor(() => deliveryOf(conn, a)?.deliveryCode === "DELIVERY_RETRIES_EXHAUSTED" && deliveryOf(conn, b)?.delivery === "sent");
    expect(deliveryOf(conn, a)?.delivery).toBe("failed");
  });

  it("at least once: a claim whose process died after LINE accepted the push is taken again after its lease, and LINE drops the copy by its retry key", async () => {
    const { account, conv, conn } = await setup();
    const a = (await conn.act("reply", { text: "once on LINE" })).seq as number;
    catchUp();
    // A process claims the delivery, pushes, and dies before recording the outcome.
    const [claim] = await claimDueDeliveries(app.database.db, { now: new Date(clock), leaseMs: LEASE_MS, limit: 1 });
    expect(claim).toMatchObject({ conversationId: conv.id, seq: a });
    const acc = (await loadAccount(app.database.db, account.id))!;
    const sent = await lineSender.send(acc, {
      conversationId: conv.id,
      seq: a,
      retryKey: retryKeyOf(conv.id, a),
      recipient: conv.lineUser,
      text: "once on LINE",
    });
    expect(sent.ok).toBe(true);

    const w = worker();
    await w.drainAll(); // within the lease: nobody takes it
    expect(pushesTo(conv.lineUser)).toHaveLength(1);
    expect(await deliveryRow(app, conv.id, a)).toMatchObject({ status: "queued" });

    clock += LEASE_MS;
    await w.drainAll();
    expect(pushesTo(conv.lineUser)).toHaveLength(2); // sent again (at least once) …
    expect(acceptedTo(conv.lineUser)).toEqual(["once on LINE"]); // … and LINE kept one (409 on the same key)
    expect(await deliveryRow(app, conv.id, a)).toMatchObject({
      status: "sent",
      providerMessageId: fake.pushes.find((p) => p.to === conv.lineUser)?.id,
    });
  });

  it("two workers on one database: every reply is pushed once, each conversation's in seq order", async () => {
    const convs = await Promise.all([setup(), setup(), setup()]);
    for (const { conn } of convs) {
      for (const text of ["1", "2", "3"]) expect((await conn.act("reply", { text })).ok).toBe(true);
    }
    catchUp();
    const [w1, w2] = [worker(), worker()];
    await Promise.all([w1.drainAll(), w2.drainAll()]);
    await Promise.all([w1.drainAll(), w2.drainAll()]);
    for (const { conv } of convs) {
      expect(acceptedTo(conv.lineUser)).toEqual(["1", "2", "3"]);
      expect(pushesTo(conv.lineUser)).toHaveLength(3);
    }
    expect(fake.violations()).toEqual([]);
  });
});
