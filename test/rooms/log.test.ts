import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import * as s from "../../db/schema.ts";
import { useTestServer } from "../support/server.ts";
import {
  type Conn,
  ID,
  connect,
  conversationRow,
  createConversation,
  createMember,
  logTexts,
  messageRows,
  query,
  waitFor,
} from "./helpers.ts";

const app = useTestServer();

async function ok(conn: Conn, type: string, payload: Record<string, unknown> = {}) {
  const r = await conn.act(type, payload);
  expect(r, `${type} ${JSON.stringify(payload)}`).toMatchObject({ ok: true });
  return r;
}

const systemCount = async (id: string) => (await messageRows(app, id)).filter((m) => m.sender === "system").length;

describe("status log (對話狀態紀錄), rendered in the reader's locale", () => {
  it("[R2.5] [R16.1] adding names the actor and every target, joined with 、 (English: with commas)", async () => {
    const c = await createConversation(app, { follower: ID.admin });
    const jess = await connect(app, "admin", c.id);
    await ok(jess, "add_collaborators", { memberIds: [ID.manager, ID.marketing] });
    await ok(jess, "add_collaborators", { memberIds: [ID.agent2] });
    expect(await logTexts(jess)).toEqual(["Jess 將 Ben、Cathy 加入了協作對話", "Jess 將 Eve 加入了協作對話"]);

    const eve = await connect(app, "agent2", c.id);
    expect(await logTexts(eve)).toEqual([
      "Jess added Ben, Cathy to the collaborative conversation",
      "Jess added Eve to the collaborative conversation",
    ]);
  });

  it("[R2.2] a WhatsApp group conversation takes several collaborators in one action", async () => {
    const c = await createConversation(app, { follower: ID.supervisor, kind: "group", channel: "whatsapp" });
    const amy = await connect(app, "supervisor", c.id);
    await ok(amy, "add_collaborators", { memberIds: [ID.agent, ID.agent3] });
    expect(await logTexts(amy)).toEqual(["Amy 將 Dan、Finn 加入了協作對話"]);
    const row = await conversationRow(app, c.id);
    expect({ k: row.kind, c: row.collaboratorIds, s: row.status }).toEqual({ k: "group", c: [ID.agent, ID.agent3], s: "in_progress" });
  });

  it("[R3.3] removing one names only the target; removing several names the actor and the targets", async () => {
    const c = await createConversation(app, { follower: ID.admin, collaborators: [ID.manager, ID.marketing, ID.agent, ID.agent2] });
    const jess = await connect(app, "admin", c.id);
    await ok(jess, "remove_collaborators", { memberIds: [ID.agent] });
    await ok(jess, "remove_collaborators", { memberIds: [ID.manager, ID.marketing] });
    expect(await logTexts(jess)).toEqual(["Dan 退出了協作對話", "Jess 將 Ben、Cathy 退出了協作對話"]);
    const eve = await connect(app, "agent2", c.id);
    expect(await logTexts(eve)).toEqual([
      "Dan left the collaborative conversation",
      "Jess removed Ben, Cathy from the collaborative conversation",
    ]);
  });

  it("[R4.3] [R5.2] joining and leaving on one's own", async () => {
    const c = await createConversation(app, { follower: ID.agent, collaborators: [ID.marketing] });
    const amy = await connect(app, "supervisor", c.id, "team");
    const cathy = await connect(app, "marketing", c.id);
    await ok(amy, "join");
    await ok(cathy, "leave");
    expect(await logTexts(amy)).toEqual(["Amy 加入了協作對話", "Cathy 退出了協作對話"]);
  });

  it("[R6.3] [R7.3] taking over and transferring", async () => {
    const c = await createConversation(app, { follower: ID.agent, collaborators: [ID.manager] });
    const ben = await connect(app, "manager", c.id);
    await ok(ben, "take_over");
    await ok(ben, "transfer", { memberId: ID.agent });
    expect(await logTexts(ben)).toEqual(["Ben 接手跟進了 Dan 的對話", "Ben 將對話轉給了 Dan"]);
    const row = await conversationRow(app, c.id);
    expect({ f: row.followerId, c: row.collaboratorIds }).toEqual({ f: ID.agent, c: [ID.manager] });
  });

  it("[R8.3] [R9.1] [R9.2] [R9.4] closing and a collaborator reopening: log lines, no system message, the follower stays", async () => {
    const c = await createConversation(app, { follower: ID.admin, collaborators: [ID.agent] });
    const jess = await connect(app, "admin", c.id);
    const systemBefore = await systemCount(c.id);
    // Messages other than the survey's link (an automatic message the close sends with csatOnClose, R8.2).
    const human = () => jess.state.messages.filter((m: { sender: string }) => m.sender !== "auto").length;
    const shown = human();
    await ok(jess, "close");
    const dan = await connect(app, "agent", c.id); // evicted by the close; opens it again from `mine`
    expect(dan.state.status).toBe("closed");
    await ok(dan, "reopen");
    await waitFor(() => jess.state.status === "in_progress");
    expect(await logTexts(jess)).toEqual(["Jess 結束了對話", "Dan 重啟了對話"]);
    expect(await systemCount(c.id)).toBe(systemBefore);
    expect(human()).toBe(shown);
    const row = await conversationRow(app, c.id);
    expect({ s: row.status, f: row.followerId, c: row.collaboratorIds }).toEqual({ s: "in_progress", f: ID.admin, c: [ID.agent] });
  });

  it("[R9.3] [R9.4] a team viewer reopens from the team view without becoming follower or collaborator", async () => {
    const c = await createConversation(app, { follower: ID.agent, collaborators: [ID.marketing], status: "closed" });
    const amy = await connect(app, "supervisor", c.id, "team");
    await ok(amy, "reopen");
    expect(await logTexts(amy)).toEqual(["Amy 重啟了對話"]);
    const row = await conversationRow(app, c.id);
    expect({ s: row.status, f: row.followerId, c: row.collaboratorIds }).toEqual({ s: "in_progress", f: ID.agent, c: [ID.marketing] });
    expect(await systemCount(c.id)).toBe(0);
  });

  it("pages of the log go back by beforeSeq", async () => {
    const c = await createConversation(app, { follower: ID.admin });
    const jess = await connect(app, "admin", c.id);
    for (const id of [ID.manager, ID.marketing, ID.agent]) await ok(jess, "add_collaborators", { memberIds: [id] });
    const newest = await query(jess, "log", { limit: 2 });
    const events = newest.events as { seq: number; text: string }[];
    expect(events.map((e) => e.text)).toEqual(["Jess 將 Cathy 加入了協作對話", "Jess 將 Dan 加入了協作對話"]);
    const older = await query(jess, "log", { limit: 2, beforeSeq: events[0]!.seq });
    expect((older.events as { text: string }[]).map((e) => e.text)).toEqual(["Jess 將 Ben 加入了協作對話"]);
  });

  it("[R16.2] a renamed member shows their current name in the log", async () => {
    const c = await createConversation(app, { follower: ID.admin });
    const jess = await connect(app, "admin", c.id);
    const finn = await createMember(app, { name: "Finnegan" });
    await ok(jess, "add_collaborators", { memberIds: [finn.id] });
    expect(await logTexts(jess)).toEqual(["Jess 將 Finnegan 加入了協作對話"]);
    await app.database.db.update(s.members).set({ name: "Finn R." }).where(eq(s.members.id, finn.id));
    expect(await logTexts(jess)).toEqual(["Jess 將 Finn R. 加入了協作對話"]);
  });
});

describe("history", () => {
  it("pages older messages by beforeSeq, rendered in the reader's locale", async () => {
    const c = await createConversation(app, { follower: ID.admin, texts: ["m1", "m2", "m3", "m4", "m5"] });
    const jess = await connect(app, "admin", c.id);
    await ok(jess, "add_collaborators", { memberIds: [ID.agent2] }); // seq 6: system message, seq 7: log event
    const latest = await query(jess, "history", { limit: 3 });
    const page = latest.messages as { seq: number; sender: string; text: string }[];
    expect(page.map((m) => m.seq)).toEqual([4, 5, 6]);
    expect(page.map((m) => m.text)).toEqual(["m4", "m5", "Eve 加入了協作對話"]);
    expect(page[2]!.sender).toBe("system");
    const older = await query(jess, "history", { limit: 3, beforeSeq: 4 });
    expect((older.messages as { seq: number }[]).map((m) => m.seq)).toEqual([1, 2, 3]);
    const oldest = await query(jess, "history", { limit: 3, beforeSeq: 1 });
    expect(oldest.messages).toEqual([]);

    const eve = await connect(app, "agent2", c.id);
    const en = await query(eve, "history", { limit: 1 });
    expect((en.messages as { text: string }[])[0]!.text).toBe("Eve joined the collaborative conversation");
  });
});
