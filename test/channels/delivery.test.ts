import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadAccount } from "../../server/channels/accounts.ts";
import { LINE_API_DEFAULT_BASE_URL, useLineApiBaseUrl } from "../../server/channels/line/client.ts";
import { applyDeliveryReport, retryKeyOf } from "../../server/delivery.ts";
import { FakeLine } from "../support/fakes/line.ts";
import { createConversation } from "../support/fixtures.ts";
import { connect, query } from "../support/rooms.ts";
import { ID, useTestServer, waitFor } from "../support/server.ts";
import { createLineAccount, deliveryRow, lineConversation, pendingDeliveries, setChannelStatus } from "./delivery-support.ts";

/**
 * Outbound delivery end to end (issue 9, item 5): a staff reply committed in a LINE conversation
 * is pushed to a local fake of LINE's Messaging API by the server's own delivery worker, and its
 * status moves in the database and in every participant's room state.
 */

const app = useTestServer();
let fake: FakeLine;

beforeAll(async () => {
  fake = await FakeLine.start([]);
  useLineApiBaseUrl(fake.url);
});
afterAll(async () => {
  useLineApiBaseUrl(LINE_API_DEFAULT_BASE_URL);
  await fake.stop();
});

async function lineSetup(spec: Parameters<typeof lineConversation>[2] = {}) {
  const account = await createLineAccount(app);
  fake.tokens.add(account.token);
  const conv = await lineConversation(app, account, spec);
  return { account, conv };
}

describe("delivery of staff replies (server/delivery.ts)", () => {
  it("[R1.3] a collaborator's reply is delivered like the follower's: it reaches LINE with the customer's id and text and ends `sent` in the database and in both participants' state", async () => {
    const { conv } = await lineSetup({ follower: ID.agent, collaborators: [ID.manager] });
    const follower = await connect(app, "agent", conv.id);
    const collaborator = await connect(app, "manager", conv.id);

    const r1 = await follower.act("reply", { text: "follower's reply" });
    const r2 = await collaborator.act("reply", { text: "collaborator's reply" });
    expect(r1.ok && r2.ok).toBe(true);
    const seqs = [r1.seq as number, r2.seq as number];

    for (const conn of [follower, collaborator]) {
      await waitFor(() => seqs.every((seq) => conn.state.messages.find((m: { seq: number }) => m.seq === seq)?.delivery === "sent"));
    }
    for (const seq of seqs) expect(await deliveryRow(app, conv.id, seq)).toMatchObject({ status: "sent", code: null });
    const pushes = fake.pushes.filter((p) => p.to === conv.lineUser);
    expect(pushes.map((p) => p.texts)).toEqual([["follower's reply"], ["collaborator's reply"]]);
    expect(pushes.map((p) => p.retryKey)).toEqual(seqs.map((seq) => retryKeyOf(conv.id, seq)));
    // The provider's message id is stored, to match its status callbacks.
    expect((await deliveryRow(app, conv.id, seqs[0]!))?.providerMessageId).toBe(pushes[0]!.id);
    expect(fake.violations()).toEqual([]);
    // A history page carries the same fields as the state.
    const page = await query(follower, "history", { limit: 5 });
    const items = page.messages as { seq: number; delivery: string; deliveryCode: string }[];
    expect(items.filter((m) => seqs.includes(m.seq)).map((m) => m.delivery)).toEqual(["sent", "sent"]);
    // Customer messages have no delivery.
    expect(items.find((m) => m.seq === 1)?.delivery).toBe("");
  });

  it("a permanent refusal (LINE 400) ends `failed` with its code and LINE's reason, in the database and the state, after one attempt", async () => {
    const { conv } = await lineSetup();
    const conn = await connect(app, "admin", conv.id);
    const before = fake.requests.length;
    fake.fail("push", { status: 400, body: { message: "The property, 'to', in the request body is invalid" } });
    const r = await conn.act("reply", { text: "never arrives" });
    const seq = r.seq as number;
    await waitFor(() => conn.state.messages.find((m: { seq: number }) => m.seq === seq)?.delivery === "failed");
    const item = conn.state.messages.find((m: { seq: number }) => m.seq === seq);
    expect(item.deliveryCode).toBe("LINE_INVALID_REQUEST");
    expect(item.deliveryReason).toContain("is invalid");
    expect(await deliveryRow(app, conv.id, seq)).toMatchObject({ status: "failed", code: "LINE_INVALID_REQUEST" });
    expect(fake.requests.length - before).toBe(1);
  });

  it("a disabled channel holds the reply (no attempt) and it goes out once the channel is enabled again", async () => {
    const { account, conv } = await lineSetup();
    await setChannelStatus(app, account.id, "disabled");
    const conn = await connect(app, "admin", conv.id);
    const before = fake.requests.length;
    const r = await conn.act("reply", { text: "wait for me" });
    const seq = r.seq as number;
    await waitFor(() => conn.state.messages.find((m: { seq: number }) => m.seq === seq)?.delivery === "held");
    expect(await deliveryRow(app, conv.id, seq)).toMatchObject({ status: "held" });
    expect(fake.requests.length).toBe(before);

    await setChannelStatus(app, account.id, "active");
    await waitFor(() => conn.state.messages.find((m: { seq: number }) => m.seq === seq)?.delivery === "sent");
    expect(await deliveryRow(app, conv.id, seq)).toMatchObject({ status: "sent" });
    expect(fake.pushes.filter((p) => p.to === conv.lineUser).map((p) => p.texts)).toEqual([["wait for me"]]);
  });

  it("statuses never move backwards: a report of `read` then a late `delivered` stays `read` (database and state); unknown ids change nothing", async () => {
    const { account, conv } = await lineSetup();
    const conn = await connect(app, "admin", conv.id);
    const r = await conn.act("reply", { text: "read me" });
    const seq = r.seq as number;
    await waitFor(() => conn.state.messages.find((m: { seq: number }) => m.seq === seq)?.delivery === "sent");
    const providerMessageId = (await deliveryRow(app, conv.id, seq))!.providerMessageId!;
    const acc = (await loadAccount(app.database.db, account.id))!;

    const read = await applyDeliveryReport(app.database.db, acc, {
      kind: "status",
      providerEventId: "e1",
      providerMessageId,
      status: "read",
    });
    expect(read).toEqual({ matched: true, changed: true });
    await waitFor(() => conn.state.messages.find((m: { seq: number }) => m.seq === seq)?.delivery === "read");
    const late = await applyDeliveryReport(app.database.db, acc, {
      kind: "status",
      providerEventId: "e2",
      providerMessageId,
      status: "delivered",
    });
    expect(late).toEqual({ matched: true, changed: false });
    expect(await deliveryRow(app, conv.id, seq)).toMatchObject({ status: "read" });
    expect(conn.state.messages.find((m: { seq: number }) => m.seq === seq)?.delivery).toBe("read");

    const unknown = await applyDeliveryReport(app.database.db, acc, {
      kind: "status",
      providerEventId: "e3",
      providerMessageId: "no-such-id",
      status: "read",
    });
    expect(unknown).toEqual({ matched: false, changed: false });
    // Another account's report does not reach this account's message.
    const other = await createLineAccount(app);
    const otherAcc = (await loadAccount(app.database.db, other.id))!;
    const foreign = await applyDeliveryReport(app.database.db, otherAcc, {
      kind: "status",
      providerEventId: "e4",
      providerMessageId,
      status: "failed",
    });
    expect(foreign).toEqual({ matched: false, changed: false });
    expect(await deliveryRow(app, conv.id, seq)).toMatchObject({ status: "read" });
  });

  it("Webchat: a reply is `sent` at once (the visitor reads it from the server; nothing leaves through a provider)", async () => {
    const conv = await createConversation(app, { channel: "webchat" });
    const conn = await connect(app, "admin", conv.id);
    const r = await conn.act("reply", { text: "hi visitor" });
    const seq = r.seq as number;
    await waitFor(() => conn.state.messages.find((m: { seq: number }) => m.seq === seq)?.delivery === "sent");
    expect(await deliveryRow(app, conv.id, seq)).toMatchObject({ status: "sent", code: null });
  });

  it("a provider's `failed` report on a sent message fails it with the provider's code (or DELIVERY_REPORTED_FAILED), and nothing moves it after", async () => {
    const { account, conv } = await lineSetup();
    const conn = await connect(app, "admin", conv.id);
    const seqs: number[] = [];
    for (const text of ["one", "two"]) seqs.push((await conn.act("reply", { text })).seq as number);
    await waitFor(() => seqs.every((seq) => conn.state.messages.find((m: { seq: number }) => m.seq === seq)?.delivery === "sent"));
    const acc = (await loadAccount(app.database.db, account.id))!;
    const ids = await Promise.all(seqs.map(async (seq) => (await deliveryRow(app, conv.id, seq))!.providerMessageId!));
    await applyDeliveryReport(app.database.db, acc, {
      kind: "status",
      providerEventId: "f1",
      providerMessageId: ids[0]!,
      status: "failed",
      code: "131047",
      reason: "Re-engagement message",
    });
    await applyDeliveryReport(app.database.db, acc, {
      kind: "status",
      providerEventId: "f2",
      providerMessageId: ids[1]!,
      status: "failed",
    });
    const late = await applyDeliveryReport(app.database.db, acc, {
      kind: "status",
      providerEventId: "f3",
      providerMessageId: ids[0]!,
      status: "read",
    });
    expect(late.changed).toBe(false);
    expect(await deliveryRow(app, conv.id, seqs[0]!)).toMatchObject({ status: "failed", code: "131047", reason: "Re-engagement message" });
    expect(await deliveryRow(app, conv.id, seqs[1]!)).toMatchObject({ status: "failed", code: "DELIVERY_REPORTED_FAILED" });
    await waitFor(() => conn.state.messages.find((m: { seq: number }) => m.seq === seqs[1])?.deliveryCode === "DELIVERY_REPORTED_FAILED");
    expect(conn.state.messages.find((m: { seq: number }) => m.seq === seqs[0])?.deliveryCode).toBe("131047");
  });

  it("replies in a conversation without a channel account carry no delivery status", async () => {
    const plain = await createConversation(app, { channel: "line" });
    const conn = await connect(app, "admin", plain.id);
    const r = await conn.act("reply", { text: "nowhere to go" });
    const seq = r.seq as number;
    expect(await deliveryRow(app, plain.id, seq)).toMatchObject({ status: null });
    expect(conn.state.messages.find((m: { seq: number }) => m.seq === seq)?.delivery).toBe("");
    // Nothing is pushed for it, and its outbox row is done (not retried for ever).
    // (the server's worker may hold the claim while this drain runs: poll until it is done)
    for (let i = 0; i < 200 && (await pendingDeliveries(app, plain.id)) > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await pendingDeliveries(app, plain.id)).toBe(0);
    expect(fake.pushes.some((p) => p.texts.includes("nowhere to go"))).toBe(false);
  });
});
