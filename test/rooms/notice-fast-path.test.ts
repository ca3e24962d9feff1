import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { commit, loadConversation, loadMembers } from "../../db/repository.ts";
import { listNotificationsByIds } from "../../db/notifications.ts";
import { decide } from "../../domain/decide.ts";
import { api, connect, createConversation, ID, openInbox, tokenOf, useTestServer, waitFor } from "./helpers.ts";

/**
 * A commit's notices take two ways to the recipient's inbox room: the conversation's room
 * publishes them right after its commit (the fast path) and marks their outbox rows done; the
 * outbox delivers whatever is left pending (a process that died after its commit, a failed
 * publish). A notice delivered both ways is shown once.
 */
const app = useTestServer();

async function outboxDone(notificationId: number): Promise<boolean | null> {
  const r = await app.database.db.execute(
    sql`select done_at is not null as done from outbox where topic = 'notice' and payload->>'notificationId' = ${String(notificationId)}`,
  );
  const rows = (Array.isArray(r) ? r : (r as { rows: unknown[] }).rows) as { done: boolean }[];
  return rows[0]?.done ?? null;
}

/** Polls an asynchronous check until it holds (10 s at most). */
async function eventually(check: () => Promise<boolean>): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > 10_000) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function unreadOf(who: "agent" | "agent2"): Promise<number> {
  const r = await api(app, await tokenOf(app, who), "/api/v2/notifications?limit=1");
  expect(r.status).toBe(200);
  return r.body.unread as number;
}

describe("notices: the fast path after commit and the outbox behind it", () => {
  it("[R2.7] a notice delivered by both the room's fast path and the outbox is shown once, and counted once", async () => {
    const c = await createConversation(app, { follower: ID.admin, collaborators: [] });
    const dan = await openInbox(app, "agent");
    const jess = await connect(app, "admin", c.id);
    // The outbox stopped: only the room's fast path can deliver the notice and mark its row done.
    await app.outbox.stop();
    let live: Awaited<ReturnType<typeof dan.next>>;
    try {
      expect((await jess.act("add_collaborators", { memberIds: [ID.agent] })).ok).toBe(true);
      live = await dan.next(c.id, "added_you");
      await eventually(async () => (await outboxDone(live.id)) === true);
    } finally {
      app.outbox.start();
    }

    // As if a drain had claimed the row before the mark (or the process died between the publish
    // and the mark): the outbox delivers the same notice again.
    await app.database.db.execute(
      sql`update outbox set done_at = null where topic = 'notice' and payload->>'notificationId' = ${String(live.id)}`,
    );
    // Delivered again by a drain: this one, or the outbox's own poller if it got there first.
    await app.outbox.drainAll();
    await eventually(async () => (await outboxDone(live.id)) === true);

    // A later notice on the same topic arrives after the repeated one: by then the room has seen it.
    expect((await jess.act("remove_collaborators", { memberIds: [ID.agent] })).ok).toBe(true);
    await dan.next(c.id, "removed_you");
    expect(dan.about(c.id).map((n) => [n.id, n.kind])).toEqual([
      [live.id, "added_you"],
      [expect.any(Number), "removed_you"],
    ]);
    const unread = await unreadOf("agent");
    await waitFor(() => (dan.room.state as { unreadNotices: number }).unreadNotices === unread);
  });

  it("[R2.7] a notice committed by a process that died before publishing it reaches the member through the outbox, once", async () => {
    const c = await createConversation(app, { follower: ID.admin, collaborators: [] });
    const eve = await openInbox(app, "agent2");
    const unreadBefore = await unreadOf("agent2");
    // The commit a room makes, with nothing after it (no fast path, no kick): its process is gone.
    const loaded = (await loadConversation(app.database.db, c.id))!;
    const members = await loadMembers(app.database.db, loaded.conversation.workspaceId, [ID.admin, ID.agent2]);
    const now = new Date();
    const decision = decide(
      loaded.conversation,
      { type: "add_collaborators", requestId: "died-1", memberIds: [ID.agent2] },
      { actor: { type: "member", id: ID.admin, role: "admin", view: "mine" }, now, members, settings: loaded.settings },
    );
    const result = await commit(app.database.db, { before: loaded.conversation, decision, memberId: ID.admin, requestId: "died-1", now });
    const ids = result.notices.map((n) => n.id);
    expect(ids).toHaveLength(1);
    const [id] = ids;
    expect(await outboxDone(id!)).toBe(false);
    // What the commit returns for its fast path is what the outbox reads: the same rows, names and locale.
    expect(result.notices).toEqual(await listNotificationsByIds(app.database.db, ids));
    expect(result.notices[0]).toMatchObject({ memberId: ID.agent2, kind: "added_you", actorName: "Jess", customerName: c.customerName });

    // The outbox (its poller, or a drain in any process) delivers it.
    await app.outbox.drainAll();
    const live = await eve.next(c.id, "added_you");
    expect(live.id).toBe(id);
    expect(live.text).toBe(`Jess (Admin) added you to ${c.customerName}'s collaborative conversation`);
    expect(await outboxDone(id!)).toBe(true);
    expect(await unreadOf("agent2")).toBe(unreadBefore + 1);
    await waitFor(() => (eve.room.state as { unreadNotices: number }).unreadNotices === unreadBefore + 1);
    expect(eve.about(c.id)).toHaveLength(1);
  });
});
