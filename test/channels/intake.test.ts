import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { and, asc, eq } from "drizzle-orm";
import pino from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../db/client.ts";
import * as s from "../../db/schema.ts";
import { type App, startApp } from "../../server/app.ts";
import { loadAccount } from "../../server/channels/accounts.ts";
import { Intake } from "../../server/channels/intake.ts";
import type { ChannelAccount, InboundMessage } from "../../server/channels/types.ts";
import { parseConfig } from "../../server/config.ts";
import { dropDatabase, freshDatabaseUrl, freshPgliteDir } from "../support/db.ts";
import { query } from "../support/rooms.ts";
import { closeAll, EMAIL, login, open, track, waitFor } from "../support/server.ts";

/**
 * Durable, idempotent intake (issue 9 item 3) and routing (item 4): events committed once per
 * provider event id however often and however concurrently they arrive; a burst of first messages
 * from a new contact lands in one conversation; group chats in one group conversation whose
 * messages name their writers; an event left unprocessed by a crash is applied after a restart.
 */

let app: App;
let databaseUrl: string | undefined;
let dataDir: string;
let config: ReturnType<typeof parseConfig>;
let line: ChannelAccount;

const silent = () => pino({ level: process.env.TEST_LOG ?? "silent" });

beforeAll(async () => {
  databaseUrl = await freshDatabaseUrl();
  dataDir = databaseUrl ? "memory://" : await freshPgliteDir();
  config = parseConfig({
    PORT: "0",
    HOST: "127.0.0.1",
    DATA_DIR: dataDir,
    SEED_DEMO: "true",
    JWT_SECRET: "test-secret-test-secret-test-secret-42",
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  });
  app = await startApp(config, { log: silent() });
  const admin = await login(app, EMAIL.admin);
  const res = await app.http.request("/api/v2/channels", {
    method: "POST",
    headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
    body: JSON.stringify({
      type: "line",
      name: "LINE OA",
      credentials: { channelSecret: "line-secret", channelAccessToken: "line-token" },
    }),
  });
  expect(res.status).toBe(201);
  line = (await loadAccount(app.database.db, ((await res.json()) as { id: string }).id))!;
});
afterEach(closeAll);
afterAll(async () => {
  await app?.stop();
  await dropDatabase(databaseUrl);
  if (dataDir && dataDir !== "memory://") rmSync(dataDir, { recursive: true, force: true });
});

function message(userId: string, over: Partial<InboundMessage> = {}): InboundMessage {
  return {
    kind: "message",
    providerEventId: `ev-${randomUUID()}`,
    channelUserId: userId,
    displayName: `Name of ${userId}`,
    parts: [{ type: "text", text: `hello from ${userId}` }],
    sentAt: new Date().toISOString(),
    ...over,
  };
}

async function conversationsOf(channelUserId: string) {
  const db = app.database.db;
  const [customer] = await db
    .select()
    .from(s.customers)
    .where(and(eq(s.customers.channel, "line"), eq(s.customers.channelUserId, channelUserId)));
  if (!customer) return { customer: null, conversations: [] };
  const conversations = await db.select().from(s.conversations).where(eq(s.conversations.customerId, customer.id));
  return { customer, conversations };
}

async function customerMessages(conversationId: string) {
  return app.database.db
    .select()
    .from(s.messages)
    .where(and(eq(s.messages.conversationId, conversationId), eq(s.messages.sender, "customer")))
    .orderBy(asc(s.messages.seq));
}

/**
 * Waits until every event named is processed. Processing is eventual: an attempt that fails for a
 * passing reason (storage or a room slow under load) is retried with backoff by the processor, so
 * `idle()` alone may return before the retry. On a timeout, says what the rows hold.
 */
async function processed(providerEventIds: readonly string[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await app.intake.idle();
    const rows = (await Promise.all(providerEventIds.map((id) => storedEvents(id)))).flat();
    if (rows.length === providerEventIds.length && rows.every((r) => r.processedAt !== null)) return;
    if (Date.now() > deadline) {
      throw new Error(
        `not processed in time: ${JSON.stringify(rows.map((r) => [r.providerEventId, r.attempts, r.lastError, r.processedAt]))}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function storedEvents(providerEventId: string) {
  return app.database.db
    .select()
    .from(s.inboundEvents)
    .where(and(eq(s.inboundEvents.channelId, line.id), eq(s.inboundEvents.providerEventId, providerEventId)));
}

describe("intake", () => {
  it("the same event delivered 3× at once, to two intakes (as two processes would), is stored once and lands as one message", async () => {
    const other = new Intake({ db: app.database.db, presence: app.presence, log: silent(), now: () => new Date() });
    const event = message("U-thrice");
    const results = await Promise.all([app.intake.receive(line, [event]), other.receive(line, [event]), app.intake.receive(line, [event])]);
    expect(results.reduce((n, r) => n + r.stored, 0)).toBe(1);
    expect(results.reduce((n, r) => n + r.duplicates, 0)).toBe(2);
    await Promise.all([app.intake.idle(), other.idle()]);
    // Once more, later: still a duplicate.
    expect(await app.intake.receive(line, [event])).toEqual({ stored: 0, duplicates: 1 });
    const { conversations } = await conversationsOf("U-thrice");
    expect(conversations).toHaveLength(1);
    const messages = await customerMessages(conversations[0]!.id);
    expect(messages.map((m) => [m.body, m.requestId])).toEqual([["hello from U-thrice", event.providerEventId]]);
    const [row] = await storedEvents(event.providerEventId);
    expect(row?.processedAt).toBeInstanceOf(Date);
  });

  it("returns once committed: the events are in inbound_events when receive resolves", async () => {
    const event = message("U-committed");
    const r = await app.intake.receive(line, [event]);
    expect(r).toEqual({ stored: 1, duplicates: 0 });
    expect(await storedEvents(event.providerEventId)).toHaveLength(1);
    await app.intake.idle();
  });

  it("20 concurrent first messages from one new contact land in ONE new pending conversation, all 20 stored", async () => {
    const events = Array.from({ length: 20 }, (_, i) => message("U-burst", { parts: [{ type: "text", text: `burst ${i}` }] }));
    const results = await Promise.all(events.map((e) => app.intake.receive(line, [e])));
    expect(results.every((r) => r.stored === 1)).toBe(true);
    await app.intake.idle();
    const { conversations } = await conversationsOf("U-burst");
    expect(conversations).toHaveLength(1);
    expect(conversations[0]).toMatchObject({ status: "pending", kind: "direct", channelId: line.id, channel: "line" });
    const bodies = (await customerMessages(conversations[0]!.id)).map((m) => m.body).sort();
    expect(bodies).toEqual(events.map((e) => (e.parts[0] as { text: string }).text).sort());
  });

  it("a contact's successive webhooks, each answered before the next, land in the order they were sent", async () => {
    const events = Array.from({ length: 12 }, (_, i) => message("U-order", { parts: [{ type: "text", text: `n${i}` }] }));
    for (const e of events) expect((await app.intake.receive(line, [e])).stored).toBe(1);
    await app.intake.idle();
    const { conversations } = await conversationsOf("U-order");
    expect((await customerMessages(conversations[0]!.id)).map((m) => m.body)).toEqual(events.map((_, i) => `n${i}`));
  });

  it("text PostgreSQL cannot store (NUL, a lone surrogate) is stored with U+FFFD in its place, not refused for ever", async () => {
    const event = message("U-nul", {
      displayName: `Bad${String.fromCharCode(0)}Name`,
      parts: [{ type: "text", text: `a${String.fromCharCode(0)}b\uD800c` }],
    });
    expect(await app.intake.receive(line, [event])).toEqual({ stored: 1, duplicates: 0 });
    await processed([event.providerEventId]);
    const { customer, conversations } = await conversationsOf("U-nul");
    expect(customer?.displayName).toBe("Bad\uFFFDName");
    expect((await customerMessages(conversations[0]!.id)).map((m) => m.body)).toEqual(["a\uFFFDb\uFFFDc"]);
  });

  it("every event of a batch is processed, in order; media keep their parts with a text fallback; the profile is stored", async () => {
    const batch: InboundMessage[] = [
      message("U-batch", { parts: [{ type: "text", text: "first" }] }),
      message("U-batch", { parts: [{ type: "image", ref: "line-content-1" }] }),
      message("U-batch", {
        parts: [{ type: "location", latitude: 25.03, longitude: 121.56, title: "Taipei 101" }],
        pictureUrl: "https://profile.example/u.png",
        displayName: "Batch Person",
      }),
    ];
    expect(await app.intake.receive(line, batch)).toEqual({ stored: 3, duplicates: 0 });
    await app.intake.idle();
    const { customer, conversations } = await conversationsOf("U-batch");
    expect(customer).toMatchObject({ displayName: "Batch Person", pictureUrl: "https://profile.example/u.png" });
    const messages = await customerMessages(conversations[0]!.id);
    expect(messages.map((m) => [m.body, m.parts])).toEqual([
      ["first", null],
      ["[image]", [{ type: "image", ref: "line-content-1" }]],
      ["[location] Taipei 101", [{ type: "location", latitude: 25.03, longitude: 121.56, title: "Taipei 101" }]],
    ]);
    // A later event without a profile keeps the one stored.
    await app.intake.receive(line, [message("U-batch", { displayName: undefined })]);
    await app.intake.idle();
    expect((await conversationsOf("U-batch")).customer).toMatchObject({
      displayName: "Batch Person",
      pictureUrl: "https://profile.example/u.png",
    });
  });

  it("[R2.2] a group chat with three customers is ONE group conversation whose messages name their writers", async () => {
    const groupId = `C-${randomUUID()}`;
    const writers = ["U-g1", "U-g2", "U-g3"];
    // Concurrent first messages from all three, twice each.
    const events = writers.flatMap((u) => [message(u, { groupId }), message(u, { groupId })]);
    await Promise.all(events.map((e) => app.intake.receive(line, [e])));
    await processed(events.map((e) => e.providerEventId));
    const db = app.database.db;
    const groups = await db
      .select()
      .from(s.conversations)
      .where(and(eq(s.conversations.channelId, line.id), eq(s.conversations.kind, "group")));
    const mine = [];
    for (const g of groups) {
      const [owner] = await db.select().from(s.customers).where(eq(s.customers.id, g.customerId));
      if (owner?.channelUserId === `group:${groupId}`) mine.push(g);
    }
    expect(mine).toHaveLength(1);
    const messages = await customerMessages(mine[0]!.id);
    expect(messages).toHaveLength(6);
    const writerIds = new Map<string, string>();
    for (const u of writers) writerIds.set(u, (await conversationsOf(u)).customer!.id);
    for (const e of events) {
      const m = messages.find((x) => x.requestId === e.providerEventId);
      expect(m?.senderId).toBe(writerIds.get(e.channelUserId));
    }
    // Writing in a group opens no 1-on-1 conversation for the writer.
    for (const u of writers) expect((await conversationsOf(u)).conversations).toHaveLength(0);
  });

  it("[R2.2] room clients see each group message named by its writer, and a media message's parts (state and history)", async () => {
    const groupId = `C-${randomUUID()}`;
    await app.intake.receive(line, [message("U-room-1", { groupId, displayName: "Alice" })]);
    await app.intake.idle();
    const [owner] = await app.database.db
      .select()
      .from(s.customers)
      .where(eq(s.customers.channelUserId, `group:${groupId}`));
    const [group] = await app.database.db.select().from(s.conversations).where(eq(s.conversations.customerId, owner!.id));
    const admin = await login(app, EMAIL.admin);
    const conn = track(await open(app, admin, group!.id, "team"));
    await waitFor(() => conn.state.messages.length === 1);
    // Live: later messages from two more writers, one with an image.
    await app.intake.receive(line, [
      message("U-room-2", { groupId, displayName: "Bob", parts: [{ type: "image", ref: "img-1" }] }),
      message("U-room-3", { groupId, displayName: "Carol" }),
    ]);
    await waitFor(() => conn.state.messages.length === 3);
    // `parts` is JSON text ("" for plain text): compared parsed, key order aside.
    const row = (m: { senderName: string; body: string; parts: string }) => [m.senderName, m.body, m.parts ? JSON.parse(m.parts) : ""];
    const live = [...conn.state.messages].map(row);
    expect(live).toEqual([
      ["Alice", "hello from U-room-1", ""],
      ["Bob", "[image]", [{ type: "image", ref: "img-1" }]],
      ["Carol", "hello from U-room-3", ""],
    ]);
    const history = await query(conn, "history", { limit: 10 });
    const items = (history.messages as { senderName: string; body: string; parts: string }[]).map(row);
    expect(items).toEqual(live);
  });

  it("an event claimed by a process that died is left alone while its lease runs, and processed once it has run out", async () => {
    const event = message("U-lease", { parts: [{ type: "text", text: "claimed, then the claimer died" }] });
    const t0 = Date.now();
    // What a dead claimer leaves: one attempt spent, the lease 60 s ahead.
    await app.database.db.insert(s.inboundEvents).values({
      channelId: line.id,
      providerEventId: event.providerEventId,
      payload: event as unknown as Record<string, unknown>,
      attempts: 1,
      availableAt: new Date(t0 + 60_000),
    });
    let clock = t0 + 1_000;
    const other = new Intake({ db: app.database.db, presence: app.presence, log: silent(), now: () => new Date(clock) });
    other.kick();
    await other.idle();
    expect((await conversationsOf("U-lease")).conversations).toHaveLength(0);
    expect((await storedEvents(event.providerEventId))[0]?.processedAt).toBeNull();
    clock = t0 + 61_000;
    other.kick();
    await other.idle();
    const { conversations } = await conversationsOf("U-lease");
    expect((await customerMessages(conversations[0]!.id)).map((m) => m.body)).toEqual(["claimed, then the claimer died"]);
    expect((await storedEvents(event.providerEventId))[0]).toMatchObject({ attempts: 2, lastError: null });
    expect((await storedEvents(event.providerEventId))[0]?.processedAt).toBeInstanceOf(Date);
  });

  it("a status report for a message we never sent is kept unprocessed with its reason, not dropped", async () => {
    const status = {
      kind: "status" as const,
      providerEventId: `st-${randomUUID()}`,
      providerMessageId: "never-sent",
      status: "delivered" as const,
    };
    expect(await app.intake.receive(line, [status])).toEqual({ stored: 1, duplicates: 0 });
    await app.intake.idle();
    const [row] = await storedEvents(status.providerEventId);
    // Tried (the app's own processor may already have tried it again: at least once), kept, due again later.
    expect(row?.processedAt).toBeNull();
    expect(row!.attempts).toBeGreaterThanOrEqual(1);
    expect(row?.lastError).toContain("no message with this provider message id");
    expect(row!.availableAt.getTime()).toBeGreaterThan(row!.receivedAt.getTime() + 1000); // with backoff
  });
});

describe("intake after a crash", () => {
  it("an event committed but never processed (the process died) is applied by the processor after a restart", async () => {
    await app.stop();
    // What a process killed between the intake commit and the room leaves behind: the row alone.
    const event = message("U-crash", { parts: [{ type: "text", text: "sent just before the crash" }] });
    const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
    try {
      await db.db
        .insert(s.inboundEvents)
        .values({ channelId: line.id, providerEventId: event.providerEventId, payload: event as unknown as Record<string, unknown> });
    } finally {
      await db.close();
    }
    app = await startApp(config, { log: silent() });
    const deadline = Date.now() + 20_000;
    let conversations: (typeof s.conversations.$inferSelect)[] = [];
    while (Date.now() < deadline) {
      conversations = (await conversationsOf("U-crash")).conversations;
      if (conversations.length > 0 && (await customerMessages(conversations[0]!.id)).length > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(conversations).toHaveLength(1);
    expect((await customerMessages(conversations[0]!.id)).map((m) => m.body)).toEqual(["sent just before the crash"]);
    await app.intake.idle();
    const [row] = await storedEvents(event.providerEventId);
    expect(row?.processedAt).toBeInstanceOf(Date);
  });
});
