import { randomUUID } from "node:crypto";
import { and, eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import * as s from "../../db/schema.ts";
import { useTestServer } from "../support/server.ts";
import {
  type Fixture,
  ID,
  connect,
  conversationRow,
  createConversation,
  messageRows,
  unreadOf,
  waitFor,
  webchat,
} from "./helpers.ts";

const app = useTestServer();

function say(c: Fixture, text: string, messageId: string = randomUUID()) {
  return webchat(app, { messageId, customer: { id: c.channelUserId, name: c.customerName }, text });
}

/** The conversation's push batches as the commit left them (db/commit.ts folds a message's push into them), by member; and any push still queued in the outbox. */
async function pushState(conversationId: string) {
  const db = app.database.db;
  const batches = await db.select().from(s.pushBatches).where(eq(s.pushBatches.conversationId, conversationId));
  const queued = await db
    .select()
    .from(s.outbox)
    .where(and(eq(s.outbox.topic, "push"), sql`${s.outbox.payload}->>'conversationId' = ${conversationId}`));
  return {
    batches: Object.fromEntries(batches.map((b) => [b.memberId, { count: b.count, lastSeq: b.lastSeq }])),
    queued: queued.length,
  };
}

describe("customer messages through Webchat", () => {
  it("[R11.1] each customer message adds one unread for the follower and for each collaborator", async () => {
    const c = await createConversation(app, {
      channel: "webchat",
      follower: ID.agent,
      collaborators: [ID.manager, ID.agent2],
      unread: { [ID.agent]: 1, [ID.supervisor]: 0 },
    });
    const dan = await connect(app, "agent", c.id);
    const ben = await connect(app, "manager", c.id);
    const amy = await connect(app, "supervisor", c.id, "team");
    await waitFor(() => dan.state.me.get(ID.agent)?.unreadCount === 1);

    const r = await say(c, "Is my parcel lost?");
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ conversationId: c.id, duplicate: false });
    await waitFor(() => dan.state.me.get(ID.agent).unreadCount === 2 && ben.state.me.get(ID.manager).unreadCount === 1);
    const last = dan.state.messages.at(-1);
    expect({ sender: last.sender, body: last.body, senderName: last.senderName }).toEqual({
      sender: "customer",
      body: "Is my parcel lost?",
      senderName: c.customerName,
    });
    expect(await unreadOf(app, c.id, [ID.agent, ID.manager, ID.agent2, ID.supervisor])).toEqual({
      [ID.agent]: 2,
      [ID.manager]: 1,
      [ID.agent2]: 1,
      [ID.supervisor]: 0,
    });
    expect(amy.state.me.get(ID.supervisor).unreadCount).toBe(0);

    expect((await say(c, "Hello?")).status).toBe(202);
    await waitFor(() => ben.state.me.get(ID.manager).unreadCount === 2);
    expect(await unreadOf(app, c.id, [ID.agent, ID.manager, ID.agent2])).toEqual({ [ID.agent]: 3, [ID.manager]: 2, [ID.agent2]: 2 });
  });

  it("[R2.4] [R8.4] a closed collaborative conversation comes back in progress with the same follower and collaborators", async () => {
    const c = await createConversation(app, {
      channel: "webchat",
      follower: ID.manager,
      collaborators: [ID.agent, ID.agent2],
      status: "closed",
    });
    const ben = await connect(app, "manager", c.id);
    expect(ben.state.status).toBe("closed");
    const r = await say(c, "One more question");
    expect(r.status).toBe(202);
    expect(r.body.conversationId).toBe(c.id);
    await waitFor(() => ben.state.status === "in_progress");
    const row = await conversationRow(app, c.id);
    expect({ status: row.status, followerId: row.followerId, collaboratorIds: row.collaboratorIds }).toEqual({
      status: "in_progress",
      followerId: ID.manager,
      collaboratorIds: [ID.agent, ID.agent2],
    });
    expect(row.closedAt).toBeNull();
    expect(await unreadOf(app, c.id, [ID.manager, ID.agent, ID.agent2])).toEqual({ [ID.manager]: 1, [ID.agent]: 1, [ID.agent2]: 1 });
    // R2.4: it never goes to pending, and no status-log line or system message is written for it.
    expect((await messageRows(app, c.id)).filter((m) => m.sender === "system")).toEqual([]);
  });

  it("a re-delivered message id applies once", async () => {
    const c = await createConversation(app, { channel: "webchat", follower: ID.agent, collaborators: [ID.manager] });
    const first = await say(c, "double?", "wc-msg-1");
    expect(first.status).toBe(202);
    expect(first.body.duplicate).toBe(false);
    const again = await say(c, "double?", "wc-msg-1");
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ conversationId: c.id, duplicate: true });
    expect((await messageRows(app, c.id)).filter((m) => m.body === "double?")).toHaveLength(1);
    expect(await unreadOf(app, c.id, [ID.agent, ID.manager])).toEqual({ [ID.agent]: 1, [ID.manager]: 1 });
    const seq = (await messageRows(app, c.id)).find((m) => m.body === "double?")!.seq;
    expect(await pushState(c.id)).toEqual({ batches: { [ID.agent]: { count: 1, lastSeq: seq }, [ID.manager]: { count: 1, lastSeq: seq } }, queued: 0 });
  });

  it("a wrong channel secret is refused with 401 and writes nothing", async () => {
    const c = await createConversation(app, { channel: "webchat", follower: ID.agent });
    const before = await messageRows(app, c.id);
    const r = await webchat(
      app,
      { messageId: "x-1", customer: { id: c.channelUserId, name: c.customerName }, text: "hi" },
      "not-the-secret",
    );
    expect(r.status).toBe(401);
    expect(r.body.code).toBe("UNAUTHENTICATED");
    const bad = await say(c, "x".repeat(4001));
    expect(bad.status).toBe(413);
    expect(bad.body.code).toBe("TEXT_TOO_LONG");
    expect(await messageRows(app, c.id)).toEqual(before);
  });

  it("[R12.1] a customer message in an in-progress collaborative conversation is counted, by its own commit, in the push batches of the follower and every collaborator", async () => {
    const c = await createConversation(app, {
      channel: "webchat",
      follower: ID.agent,
      collaborators: [ID.manager, ID.agent2, ID.marketing],
    });
    const r = await say(c, "Anyone?");
    expect(r.status).toBe(202);
    // Folded into each member's push batch by the message's own commit (sent after the window: test/push).
    const one = { count: 1, lastSeq: r.body.seq };
    expect(await pushState(c.id)).toEqual({ batches: { [ID.agent]: one, [ID.manager]: one, [ID.agent2]: one, [ID.marketing]: one }, queued: 0 });
  });
});
