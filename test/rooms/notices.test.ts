import { describe, expect, it } from "vitest";
import { useTestServer } from "../support/server.ts";
import { ID, type Inbox, api, connect, createConversation, openInbox, tokenOf, waitFor } from "./helpers.ts";

const app = useTestServer();

interface Listed {
  id: number;
  kind: string;
  conversationId: string;
  text: string;
  readAt: string | null;
}

async function listed(who: "agent" | "agent2" | "manager", conversationId: string): Promise<{ items: Listed[]; unread: number }> {
  const r = await api(app, await tokenOf(app, who), "/api/v2/notifications?limit=100");
  expect(r.status).toBe(200);
  return { items: (r.body.items as Listed[]).filter((n) => n.conversationId === conversationId), unread: r.body.unread };
}

/** The live notice's text, the stored one's, and marking it read through the HTTP API. */
async function expectDelivered(who: "agent" | "agent2" | "manager", inbox: Inbox, conversationId: string, kind: string, text: string) {
  const live = await inbox.next(conversationId, kind);
  expect(live.text).toBe(text);
  const before = await listed(who, conversationId);
  const stored = before.items.find((n) => n.id === live.id);
  expect(stored).toMatchObject({ kind, text, readAt: null });
  expect(before.unread).toBeGreaterThanOrEqual(1);
  await waitFor(() => (inbox.room.state as { unreadNotices: number }).unreadNotices >= 1);

  const read = await api(app, await tokenOf(app, who), "/api/v2/notifications/read", { method: "POST", body: { ids: [live.id] } });
  expect(read.status).toBe(200);
  expect(read.body.changed).toBe(1);
  expect(read.body.unread).toBe(before.unread - 1);
  const after = await listed(who, conversationId);
  expect(after.items.find((n) => n.id === live.id)?.readAt).not.toBeNull();
  expect(after.unread).toBe(before.unread - 1);
  // The inbox room's count follows the read.
  await waitFor(() => (inbox.room.state as { unreadNotices: number }).unreadNotices === after.unread);
}

describe("real-time notifications", () => {
  it("[R2.7] [R16.1] each added member is told live, in their own locale, and the notice is stored and can be read", async () => {
    const c = await createConversation(app, { follower: ID.admin, collaborators: [] });
    const dan = await openInbox(app, "agent");
    const eve = await openInbox(app, "agent2");
    const jess = await connect(app, "admin", c.id);
    expect((await jess.act("add_collaborators", { memberIds: [ID.agent, ID.agent2] })).ok).toBe(true);

    await expectDelivered("agent", dan, c.id, "added_you", `Jess (管理員) 將你加入 ${c.customerName} 的協作對話`);
    await expectDelivered("agent2", eve, c.id, "added_you", `Jess (Admin) added you to ${c.customerName}'s collaborative conversation`);
    expect(dan.about(c.id)).toHaveLength(1);
    expect(eve.about(c.id)).toHaveLength(1);
  });

  it("[R6.2] [R6.4] the previous follower is told who took over", async () => {
    const c = await createConversation(app, { follower: ID.agent, collaborators: [ID.manager] });
    const dan = await openInbox(app, "agent");
    const ben = await connect(app, "manager", c.id);
    expect((await ben.act("take_over")).ok).toBe(true);
    await waitFor(() => ben.state.follower?.id === ID.manager);
    expect(ben.state.collaborators.map((m: { id: string }) => m.id)).toEqual([ID.agent]);
    await expectDelivered("agent", dan, c.id, "took_over_yours", "Ben (客服經理) 已接手 1 個你的對話");
  });

  it("[R6.4] [R16.1] an English-locale previous follower reads it in English", async () => {
    const c = await createConversation(app, { follower: ID.agent2, collaborators: [ID.manager] });
    const eve = await openInbox(app, "agent2");
    const ben = await connect(app, "manager", c.id);
    expect((await ben.act("take_over")).ok).toBe(true);
    await expectDelivered("agent2", eve, c.id, "took_over_yours", "Ben (CS Manager) took over 1 of your conversations");
  });

  it("[R7.2] [R7.4] the new follower is told who transferred the conversation to them", async () => {
    const c = await createConversation(app, { follower: ID.admin, collaborators: [ID.agent, ID.manager] });
    const ben = await openInbox(app, "manager");
    const dan = await openInbox(app, "agent");
    const jess = await connect(app, "admin", c.id);
    expect((await jess.act("transfer", { memberId: ID.manager })).ok).toBe(true);
    await waitFor(() => jess.state.follower?.id === ID.manager);
    expect(jess.state.collaborators.map((m: { id: string }) => m.id)).toEqual([ID.admin, ID.agent]);
    await expectDelivered("manager", ben, c.id, "transferred_to_you", "Jess (管理員) 已將 1 個對話移轉給你");
    expect(dan.about(c.id)).toEqual([]);
  });

  it("[R7.4] [R16.1] an English-locale new follower reads it in English; read all marks every notice read", async () => {
    const c = await createConversation(app, { follower: ID.admin, collaborators: [ID.agent2] });
    const eve = await openInbox(app, "agent2");
    const jess = await connect(app, "admin", c.id);
    expect((await jess.act("transfer", { memberId: ID.agent2 })).ok).toBe(true);
    const live = await eve.next(c.id, "transferred_to_you");
    expect(live.text).toBe("Jess (Admin) transferred 1 conversation to you");

    const token = await tokenOf(app, "agent2");
    const read = await api(app, token, "/api/v2/notifications/read", { method: "POST", body: { all: true } });
    expect(read.status).toBe(200);
    expect(read.body.unread).toBe(0);
    const after = await api(app, token, "/api/v2/notifications?unread=true");
    expect(after.body.items).toEqual([]);
    expect(after.body.unread).toBe(0);
  });

  it("notifications need a valid Bearer token", async () => {
    const res = await fetch(`${app.url}/api/v2/notifications`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { code: string }).code).toBe("UNAUTHENTICATED");
  });
});
