import { describe, expect, it } from "vitest";
import { renderError } from "../../domain/texts.ts";
import { useTestServer } from "../support/server.ts";
import { ID, NAME, api, connect, createConversation, createMember, messageRows, tokenOf } from "../rooms/helpers.ts";
import { otherWorkspaceConversation } from "../http/fixtures.ts";

const app = useTestServer();

const R15_2_ZH = "舊版對話不支援協作功能，請到對話 2.0 繼續使用。";

async function v1List(who: string, query = "") {
  const r = await api(app, await tokenOf(app, who), `/api/v1/conversations${query}`);
  expect(r.status).toBe(200);
  return r.body as { conversations: { id: string; status: string; assigneeId: string | null }[]; total: number };
}

describe("GET /api/v1/conversations", () => {
  it("[R15.1] the list hides every collaborative conversation, whoever follows it and whoever asks", async () => {
    const agent = await createMember(app, { role: "agent" });
    const plain = await createConversation(app, { follower: agent.id, texts: ["hello"] });
    const collab = await createConversation(app, { follower: agent.id, collaborators: [ID.agent2] });
    const asCollaborator = await createConversation(app, { follower: ID.agent2, collaborators: [agent.id] });
    const mine = await v1List(agent.id);
    expect(mine.conversations.map((c) => c.id)).toEqual([plain.id]);
    expect(mine.total).toBe(1);
    expect(mine.conversations[0]).toEqual({
      id: plain.id,
      status: "in_progress",
      channel: "line",
      customer: { id: plain.customerId, name: plain.customerName },
      assigneeId: agent.id,
      lastMessageAt: expect.any(String),
      lastMessagePreview: "hello",
    });
    // A TEAM_VIEWER sees the workspace's conversations, still without the collaborative ones.
    const all: string[] = [];
    for (let offset = 0; ; offset += 100) {
      const page = await v1List("admin", `?limit=100&offset=${offset}`);
      all.push(...page.conversations.map((c) => c.id));
      if (all.length >= page.total) break;
    }
    expect(all).toContain(plain.id);
    expect(all).not.toContain(collab.id);
    expect(all).not.toContain(asCollaborator.id);
  });

  it("[R15.1] a conversation leaves the list when it becomes collaborative and comes back when it is 1-on-1 again", async () => {
    const c = await createConversation(app, { follower: ID.agent });
    expect((await v1List("agent", "?limit=100")).conversations.map((x) => x.id)).toContain(c.id);
    const dan = await connect(app, "agent", c.id);
    expect(await dan.act("add_collaborators", { memberIds: [ID.agent3] })).toMatchObject({ ok: true });
    expect((await v1List("agent", "?limit=100")).conversations.map((x) => x.id)).not.toContain(c.id);
    expect((await v1List("supervisor", "?limit=100")).conversations.map((x) => x.id)).not.toContain(c.id);
    expect(await dan.act("remove_collaborators", { memberIds: [ID.agent3] })).toMatchObject({ ok: true });
    expect((await v1List("agent", "?limit=100")).conversations.map((x) => x.id)).toContain(c.id);
    // Opening it again works; the system messages of its collaborative time are rendered in the caller's locale.
    const opened = await api(app, await tokenOf(app, "agent"), `/api/v1/conversations/${c.id}`);
    expect(opened.status).toBe(200);
    const texts = opened.body.messages.map((m: { text: string }) => m.text);
    expect(texts).toContain(`${NAME.agent3} 加入了協作對話`);
    expect(texts).toContain(`${NAME.agent3} 退出了協作對話`);
  });

  it("status filter, limit, offset and total; newest message first; an agent never sees pending ones", async () => {
    const agent = await createMember(app, { role: "agent" });
    const a = await createConversation(app, { follower: agent.id, status: "in_progress" });
    const b = await createConversation(app, { follower: agent.id, status: "closed" });
    const cc = await createConversation(app, { follower: agent.id, status: "in_progress" });
    await createConversation(app, { follower: null }); // pending: nobody follows it
    const all = await v1List(agent.id);
    expect(all.total).toBe(3);
    expect(new Set(all.conversations.map((x) => x.id))).toEqual(new Set([a.id, b.id, cc.id]));
    const times = all.conversations.map((x: any) => Date.parse(x.lastMessageAt));
    expect([...times].sort((x, y) => y - x)).toEqual(times);
    const inProgress = await v1List(agent.id, "?status=in_progress");
    expect(inProgress.total).toBe(2);
    expect(new Set(inProgress.conversations.map((x) => x.id))).toEqual(new Set([a.id, cc.id]));
    expect((await v1List(agent.id, "?status=closed")).conversations.map((x) => x.id)).toEqual([b.id]);
    expect((await v1List(agent.id, "?status=pending")).total).toBe(0);
    const p1 = await v1List(agent.id, "?limit=2");
    const p2 = await v1List(agent.id, "?limit=2&offset=2");
    expect(p1.conversations).toHaveLength(2);
    expect(p2.conversations).toHaveLength(1);
    expect(p2.total).toBe(3);
    expect([...p1.conversations, ...p2.conversations].map((x) => x.id)).toEqual(all.conversations.map((x) => x.id));
  });

  it("TEAM_VIEWERS also see pending conversations of the workspace", async () => {
    const pending = await createConversation(app, { follower: null });
    const page = await v1List("manager", "?status=pending&limit=100");
    expect(page.conversations.map((x) => x.id)).toContain(pending.id);
    expect(page.conversations.find((x) => x.id === pending.id)?.assigneeId).toBeNull();
  });

  it("bad query values are 400 INVALID_PAYLOAD", async () => {
    const token = await tokenOf(app, "admin");
    for (const q of ["?status=open", "?limit=0", "?limit=101", "?limit=ten", "?offset=-1"]) {
      const r = await api(app, token, `/api/v1/conversations${q}`);
      expect([q, r.status, r.body.code]).toEqual([q, 400, "INVALID_PAYLOAD"]);
    }
  });
});

describe("GET /api/v1/conversations/{id}", () => {
  it("[R15.2] a collaborative conversation answers 409 LEGACY_COLLABORATIVE with the document's text (zh-TW) or the English one (en)", async () => {
    const c = await createConversation(app, { follower: ID.agent, collaborators: [ID.agent2] });
    const zh = await api(app, await tokenOf(app, "agent"), `/api/v1/conversations/${c.id}`);
    expect(zh).toEqual({ status: 409, body: { code: "LEGACY_COLLABORATIVE", message: R15_2_ZH, requestId: expect.any(String) } });
    const en = await api(app, await tokenOf(app, "agent2"), `/api/v1/conversations/${c.id}`);
    expect(en).toEqual({ status: 409, body: { code: "LEGACY_COLLABORATIVE", message: renderError("LEGACY_COLLABORATIVE", "en"), requestId: expect.any(String) } });
    expect(en.body.message).not.toBe(R15_2_ZH);
    // A TEAM_VIEWER who does not take part is refused the same way.
    expect((await api(app, await tokenOf(app, "supervisor"), `/api/v1/conversations/${c.id}`)).body.code).toBe("LEGACY_COLLABORATIVE");
  });

  it("a 1-on-1 conversation comes with its latest messages, oldest first", async () => {
    const c = await createConversation(app, { follower: ID.agent, texts: ["one", "two", "three"] });
    const r = await api(app, await tokenOf(app, "agent"), `/api/v1/conversations/${c.id}`);
    expect(r.status).toBe(200);
    expect(r.body.conversation).toMatchObject({ id: c.id, assigneeId: ID.agent, customer: { id: c.customerId, name: c.customerName } });
    expect(r.body.messages.map((m: any) => [m.seq, m.sender, m.text])).toEqual([
      [1, "customer", "one"],
      [2, "customer", "two"],
      [3, "customer", "three"],
    ]);
    expect(Object.keys(r.body.messages[0]).sort()).toEqual(["createdAt", "sender", "seq", "text"]);
    const last2 = await api(app, await tokenOf(app, "agent"), `/api/v1/conversations/${c.id}?limit=2`);
    expect(last2.body.messages.map((m: any) => m.text)).toEqual(["two", "three"]);
  });

  it("access like the rooms: participants and TEAM_VIEWERS; others 403; unknown or another workspace's 404", async () => {
    const c = await createConversation(app, { follower: ID.agent });
    for (const who of ["agent", "admin", "supervisor", "manager"] as const) {
      expect([who, (await api(app, await tokenOf(app, who), `/api/v1/conversations/${c.id}`)).status]).toEqual([who, 200]);
    }
    for (const who of ["agent2", "marketing"] as const) {
      const r = await api(app, await tokenOf(app, who), `/api/v1/conversations/${c.id}`);
      expect([who, r.status, r.body.code]).toEqual([who, 403, "VIEW_NOT_ALLOWED"]);
    }
    const admin = await tokenOf(app, "admin");
    expect((await api(app, admin, "/api/v1/conversations/no-such-conversation")).body.code).toBe("NOT_FOUND");
    const foreign = await otherWorkspaceConversation(app);
    expect(await api(app, admin, `/api/v1/conversations/${foreign.conversationId}`)).toMatchObject({ status: 404, body: { code: "NOT_FOUND" } });
  });
});

describe("POST /api/v1/conversations/{id}/messages", () => {
  it("the follower replies through the room; a retry with the same requestId applies once", async () => {
    const c = await createConversation(app, { follower: ID.agent });
    const token = await tokenOf(app, "agent");
    const first = await api(app, token, `/api/v1/conversations/${c.id}/messages`, { method: "POST", body: { text: " legacy hi ", requestId: "v1-1" } });
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ seq: expect.any(Number), duplicate: false });
    const again = await api(app, token, `/api/v1/conversations/${c.id}/messages`, { method: "POST", body: { text: " legacy hi ", requestId: "v1-1" } });
    expect(again).toEqual({ status: 200, body: { seq: null, duplicate: true } });
    const staff = (await messageRows(app, c.id)).filter((m) => m.sender === "staff");
    expect(staff.map((m) => [m.seq, m.senderId, m.body])).toEqual([[first.body.seq, ID.agent, "legacy hi"]]);
    const opened = await api(app, token, `/api/v1/conversations/${c.id}`);
    expect(opened.body.messages.at(-1)).toMatchObject({ seq: first.body.seq, sender: "staff", text: "legacy hi" });
  });

  it("[R15.2] replying to a collaborative conversation is refused with LEGACY_COLLABORATIVE and nothing is written", async () => {
    const c = await createConversation(app, { follower: ID.agent, collaborators: [ID.agent2] });
    const r = await api(app, await tokenOf(app, "agent"), `/api/v1/conversations/${c.id}/messages`, {
      method: "POST",
      body: { text: "through v1", requestId: "v1-collab" },
    });
    expect(r).toEqual({ status: 409, body: { code: "LEGACY_COLLABORATIVE", message: R15_2_ZH, requestId: expect.any(String) } });
    expect((await messageRows(app, c.id)).filter((m) => m.sender === "staff")).toEqual([]);
  });

  it("the room's rules and the route's limits still apply", async () => {
    const c = await createConversation(app, { follower: ID.agent });
    const post = async (who: "agent" | "agent2" | "supervisor", body: unknown, id = c.id) =>
      api(app, await tokenOf(app, who), `/api/v1/conversations/${id}/messages`, { method: "POST", body });
    // Not a participant, not a TEAM_VIEWER.
    expect((await post("agent2", { text: "hi", requestId: "x1" })).body.code).toBe("VIEW_NOT_ALLOWED");
    // A TEAM_VIEWER may reply to a 1-on-1 conversation from the team view (R1.4).
    expect((await post("supervisor", { text: "from the team", requestId: "x2" })).status).toBe(200);
    expect(await post("agent", { text: "x".repeat(4001), requestId: "x3" })).toMatchObject({ status: 413, body: { code: "TEXT_TOO_LONG" } });
    expect(await post("agent", { text: "   ", requestId: "x4" })).toMatchObject({ status: 400, body: { code: "INVALID_PAYLOAD" } });
    expect(await post("agent", { text: "hi" })).toMatchObject({ status: 400, body: { code: "INVALID_PAYLOAD" } });
    expect(await post("agent", { text: "hi", requestId: "x5" }, "no-such-conversation")).toMatchObject({ status: 404, body: { code: "NOT_FOUND" } });
    const closed = await createConversation(app, { follower: ID.agent, status: "closed" });
    const refused = await post("agent", { text: "hi", requestId: "x6" }, closed.id);
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe("CONVERSATION_CLOSED");
    expect((await messageRows(app, c.id)).filter((m) => m.sender === "staff").map((m) => m.body)).toEqual(["from the team"]);
  });
});
