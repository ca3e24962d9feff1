
import { and, eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { Duplicate, VersionConflict, commit, loadConversation, loadMemberStates, loadMembers } from "../../db/repository.ts";
import * as s from "../../db/schema.ts";
import type { Action } from "../../domain/actions.ts";
import { type Decision, decide } from "../../domain/decide.ts";
import type { Actor, Conversation } from "../../domain/model.ts";
import { storageKinds } from "../support/db.ts";
import { useSeededDatabase } from "../support/storage.ts";

/**
 * The storage contract of db/repository.ts, run against every storage this machine has
 * (PGlite always; PostgreSQL when DATABASE_URL is set).
 */
describe.each(storageKinds())("storage contract on %s", (kind) => {
  const store = useSeededDatabase(kind);

  const now = new Date("2026-11-25T10:00:00Z");
  const dan: Actor = { type: "member", id: "demo-agent", role: "agent", view: "mine" };

  async function load(id: string): Promise<Conversation> {
    return (await loadConversation(store.database.db, id))!.conversation;
  }
  async function decideOn(c: Conversation, action: Action, actor: Actor): Promise<Decision> {
    const ids = "memberIds" in action ? action.memberIds : "memberId" in action ? [action.memberId] : [];
    const members = await loadMembers(store.database.db, c.workspaceId, ids);
    const loaded = (await loadConversation(store.database.db, c.id))!;
    return decide(c, action, { actor, now, members, settings: loaded.settings });
  }
  async function counts(conversationId: string) {
    const q = async (table: typeof s.messages | typeof s.conversationEvents) =>
      (await store.database.db.select({ n: sql<number>`count(*)::int` }).from(table).where(eq(table.conversationId, conversationId)))[0]!.n;
    const outbox = (await store.database.db.select({ n: sql<number>`count(*)::int` }).from(s.outbox))[0]!.n;
    const notices = (await store.database.db.select({ n: sql<number>`count(*)::int` }).from(s.notifications))[0]!.n;
    return { messages: await q(s.messages), events: await q(s.conversationEvents), outbox, notices };
  }

  it("writes a decision whole or not at all (a failing part leaves nothing behind)", async () => {
    const before = await load("demo-collab");
    const good = await decideOn(before, { type: "add_collaborators", requestId: "a1", memberIds: ["demo-agent-3"] }, dan);
    // A notice to a member that does not exist violates a foreign key half way through the commit.
    const broken: Decision = { ...good, notices: [...good.notices, { ...good.notices[0]!, recipientId: "nobody" }] };
    const countsBefore = await counts(before.id);
    await expect(commit(store.database.db, { before, decision: broken, memberId: dan.id, requestId: "a1", now })).rejects.toThrow();
    expect(await counts(before.id)).toEqual(countsBefore);
    const after = await load(before.id);
    expect(after.version).toBe(before.version);
    expect(after.collaboratorIds).toEqual(before.collaboratorIds);
    const processed = await store.database.db.select().from(s.processedRequests).where(eq(s.processedRequests.requestId, "a1"));
    expect(processed).toHaveLength(0);
  });

  it("refuses a writer holding a stale version, writing nothing (ARCHITECTURE invariant 3)", async () => {
    const before = await load("demo-group");
    const first = await decideOn(before, { type: "reply", requestId: "v1", text: "first" }, { type: "member", id: "demo-supervisor", role: "supervisor", view: "mine" });
    const saved = await commit(store.database.db, { before, decision: first, memberId: "demo-supervisor", requestId: "v1", now });
    expect(saved.conversation.version).toBe(before.version + 1);
    const stale = await decideOn(before, { type: "reply", requestId: "v2", text: "stale" }, { type: "member", id: "demo-supervisor", role: "supervisor", view: "mine" });
    const countsBefore = await counts(before.id);
    await expect(commit(store.database.db, { before, decision: stale, memberId: "demo-supervisor", requestId: "v2", now })).rejects.toBeInstanceOf(VersionConflict);
    expect(await counts(before.id)).toEqual(countsBefore);
    expect((await load(before.id)).version).toBe(before.version + 1);
  });

  it("accepts a member's request id once (ARCHITECTURE invariant 6)", async () => {
    const before = await load("demo-direct");
    const d = await decideOn(before, { type: "reply", requestId: "dup", text: "once" }, dan);
    const saved = await commit(store.database.db, { before, decision: d, memberId: dan.id, requestId: "dup", now });
    const again = await decideOn(saved.conversation, { type: "reply", requestId: "dup", text: "once" }, dan);
    await expect(commit(store.database.db, { before: saved.conversation, decision: again, memberId: dan.id, requestId: "dup", now })).rejects.toBeInstanceOf(Duplicate);
    const rows = await store.database.db.select().from(s.messages).where(and(eq(s.messages.conversationId, before.id), eq(s.messages.body, "once")));
    expect(rows).toHaveLength(1);
  });

  it("hands out one contiguous seq counter to messages and status-log events; notices and outbox rows commit with them", async () => {
    const loaded = (await loadConversation(store.database.db, "demo-collab"))!;
    const d = await decideOn(loaded.conversation, { type: "add_collaborators", requestId: "seq1", memberIds: ["demo-agent-3"] }, dan);
    const countsBefore = await counts(loaded.conversation.id);
    const saved = await commit(store.database.db, { before: loaded.conversation, decision: d, memberId: dan.id, requestId: "seq1", now });
    expect(saved.messages.map((m) => m.seq)).toEqual([loaded.lastSeq + 1]);
    expect(saved.events.map((e) => e.seq)).toEqual([loaded.lastSeq + 2]);
    expect(saved.lastSeq).toBe(loaded.lastSeq + 2);
    const countsAfter = await counts(loaded.conversation.id);
    expect(countsAfter).toEqual({
      messages: countsBefore.messages + 1,
      events: countsBefore.events + 1,
      notices: countsBefore.notices + 1,
      outbox: countsBefore.outbox + 1,
    });
    const [row] = await store.database.db.select().from(s.outbox).orderBy(sql`${s.outbox.id} desc`).limit(1);
    expect(row!.payload).toMatchObject({ kind: "notice", memberId: "demo-agent-3" });
  });

  it("keeps unread and pins per member: increment, clear own, clear all, unpin all", async () => {
    const id = "demo-collab-full";
    const participants = ["demo-admin", "demo-supervisor", "demo-cs-manager", "demo-marketing", "demo-agent", "demo-agent-2"];
    const start = await loadMemberStates(store.database.db, id, participants);
    let c = await load(id);
    const customer: Actor = { type: "customer", id: "demo-cust-whatsapp" };
    let saved = await commit(store.database.db, { before: c, decision: await decideOn(c, { type: "customer_message", requestId: "x", text: "hi" }, customer), memberId: null, requestId: "x", externalId: "ext-1", now });
    let states = await loadMemberStates(store.database.db, id, participants);
    for (const p of participants) expect(states.get(p)!.unreadCount).toBe(start.get(p)!.unreadCount + 1);

    c = saved.conversation;
    const amy: Actor = { type: "member", id: "demo-supervisor", role: "supervisor", view: "mine" };
    saved = await commit(store.database.db, { before: c, decision: await decideOn(c, { type: "mark_read", requestId: "mr" }, amy), memberId: amy.id, requestId: "mr", now });
    states = await loadMemberStates(store.database.db, id, participants);
    expect(states.get("demo-supervisor")!.unreadCount).toBe(0);
    expect(states.get("demo-admin")!.unreadCount).toBe(start.get("demo-admin")!.unreadCount + 1);

    c = saved.conversation;
    saved = await commit(store.database.db, { before: c, decision: await decideOn(c, { type: "pin", requestId: "p1" }, amy), memberId: amy.id, requestId: "p1", now });
    states = await loadMemberStates(store.database.db, id, participants);
    expect(states.get("demo-supervisor")!.pinned).toBe(true);
    expect(states.get("demo-admin")!.pinned).toBe(false);

    c = saved.conversation;
    const jess: Actor = { type: "member", id: "demo-admin", role: "admin", view: "mine" };
    saved = await commit(store.database.db, { before: c, decision: await decideOn(c, { type: "close", requestId: "cl" }, jess), memberId: jess.id, requestId: "cl", now });
    expect(saved.allMemberStatesChanged).toBe(true);
    states = await loadMemberStates(store.database.db, id, participants);
    for (const p of participants) expect(states.get(p)!.pinned).toBe(false);
    expect((await store.database.db.select().from(s.conversations).where(eq(s.conversations.id, id)))[0]!.closedAt).toEqual(now);
  });

  it("a customer message sets waiting-since once; a staff reply clears it", async () => {
    let c = await load("demo-pending-line");
    const customer: Actor = { type: "customer", id: "demo-cust-line-2" };
    const row = async () => (await store.database.db.select().from(s.conversations).where(eq(s.conversations.id, c.id)))[0]!;
    const waitingBefore = (await row()).waitingSince;
    const saved = await commit(store.database.db, { before: c, decision: await decideOn(c, { type: "customer_message", requestId: "w", text: "?" }, customer), memberId: null, requestId: "w", externalId: "ext-w", now });
    expect((await row()).waitingSince).toEqual(waitingBefore);
    expect((await row()).lastCustomerMessageAt).toEqual(now);
    c = saved.conversation;
    const jess: Actor = { type: "member", id: "demo-admin", role: "admin", view: "team" };
    await commit(store.database.db, { before: c, decision: await decideOn(c, { type: "reply", requestId: "w2", text: "hello" }, jess), memberId: jess.id, requestId: "w2", now });
    expect((await row()).waitingSince).toBeNull();
    expect((await row()).lastStaffReplyAt).toEqual(now);
  });
});
