import { describe, expect, it } from "vitest";
import { useTestServer } from "../support/server.ts";
import { type Conn, ID, closeAll, connect, createConversation, messageRows, waitFor } from "./helpers.ts";

const app = useTestServer();

interface Line {
  kind: string;
  zh: string;
  en: string;
}

/** The system messages of the synchronized timeline, both locales. */
function systemLines(conn: Conn): Line[] {
  return conn.state.messages
    .filter((m: { sender: string }) => m.sender === "system")
    .map((m: { systemKind: string; body: string; texts: Map<string, string> }) => {
      expect(m.body).toBe("");
      return { kind: m.systemKind, zh: m.texts.get("zh-TW") ?? "", en: m.texts.get("en") ?? "" };
    });
}

/** Runs an action and returns the system lines it added to `watcher`'s timeline. */
async function linesAfter(watcher: Conn, actor: Conn, type: string, payload: Record<string, unknown>, expected: number): Promise<Line[]> {
  const before = systemLines(watcher).length;
  expect(await actor.act(type, payload), type).toMatchObject({ ok: true });
  await waitFor(() => systemLines(watcher).length >= before + expected);
  return systemLines(watcher).slice(before);
}

describe("system messages (系統訊息) in the timeline, in zh-TW and en", () => {
  it("[R2.6] one added names them; several name the first and count the others", async () => {
    const c = await createConversation(app, { follower: ID.admin });
    const jess = await connect(app, "admin", c.id);
    expect(await linesAfter(jess, jess, "add_collaborators", { memberIds: [ID.manager] }, 1)).toEqual([
      { kind: "members_joined", zh: "Ben 加入了協作對話", en: "Ben joined the collaborative conversation" },
    ]);
    const two = await linesAfter(jess, jess, "add_collaborators", { memberIds: [ID.marketing, ID.agent] }, 1);
    expect(two.map((l) => l.zh)).toEqual(["Cathy 與其他 1 人加入了協作對話"]);
    expect(await linesAfter(jess, jess, "add_collaborators", { memberIds: [ID.agent2, ID.agent3] }, 1)).toEqual([
      {
        kind: "members_joined",
        zh: "Eve 與其他 1 人加入了協作對話",
        en: expect.stringMatching(/^Eve and 1 others? joined the collaborative conversation$/),
      },
    ]);
  });

  it("[R2.6] four added at once: `X 與其他 3 人加入了協作對話`", async () => {
    const c = await createConversation(app, { follower: ID.admin, collaborators: [] });
    const jess = await connect(app, "admin", c.id);
    const lines = await linesAfter(jess, jess, "add_collaborators", { memberIds: [ID.supervisor, ID.manager, ID.marketing, ID.agent] }, 1);
    expect(lines).toEqual([
      { kind: "members_joined", zh: "Amy 與其他 3 人加入了協作對話", en: "Amy and 3 others joined the collaborative conversation" },
    ]);
  });

  it("[R3.4] one removed names them; several name the first and count the others", async () => {
    const c = await createConversation(app, { follower: ID.admin, collaborators: [ID.manager, ID.marketing, ID.agent, ID.agent2] });
    const jess = await connect(app, "admin", c.id);
    expect(await linesAfter(jess, jess, "remove_collaborators", { memberIds: [ID.agent2] }, 1)).toEqual([
      { kind: "members_left", zh: "Eve 退出了協作對話", en: "Eve left the collaborative conversation" },
    ]);
    expect(await linesAfter(jess, jess, "remove_collaborators", { memberIds: [ID.manager, ID.marketing, ID.agent] }, 1)).toEqual([
      { kind: "members_left", zh: "Ben 與其他 2 人退出了協作對話", en: "Ben and 2 others left the collaborative conversation" },
    ]);
  });

  it("[R4.3] [R5.2] joining and leaving on one's own", async () => {
    const c = await createConversation(app, { follower: ID.agent, collaborators: [ID.marketing] });
    const dan = await connect(app, "agent", c.id);
    const amy = await connect(app, "supervisor", c.id, "team");
    const cathy = await connect(app, "marketing", c.id);
    expect(await linesAfter(dan, amy, "join", {}, 1)).toEqual([
      { kind: "members_joined", zh: "Amy 加入了協作對話", en: "Amy joined the collaborative conversation" },
    ]);
    expect(await linesAfter(dan, cathy, "leave", {}, 1)).toEqual([
      { kind: "members_left", zh: "Cathy 退出了協作對話", en: "Cathy left the collaborative conversation" },
    ]);
  });

  it("[R6.3] [R7.3] taking over names the taker; transferring names the new follower", async () => {
    const c = await createConversation(app, { follower: ID.agent, collaborators: [ID.manager] });
    const dan = await connect(app, "agent", c.id);
    const ben = await connect(app, "manager", c.id);
    expect(await linesAfter(dan, ben, "take_over", {}, 1)).toEqual([
      { kind: "followed", zh: "Ben 跟進了對話", en: "Ben is now following the conversation" },
    ]);
    expect(await linesAfter(dan, ben, "transfer", { memberId: ID.agent }, 1)).toEqual([
      { kind: "followed", zh: "Dan 跟進了對話", en: "Dan is now following the conversation" },
    ]);
  });

  it("[R8.3] [R9.4] closing and reopening add no system message", async () => {
    const c = await createConversation(app, { follower: ID.admin, collaborators: [ID.agent], texts: ["a", "b"] });
    const jess = await connect(app, "admin", c.id);
    const amy = await connect(app, "supervisor", c.id, "team");
    // The survey's link (an automatic message the close sends with csatOnClose, R8.2) is not a system message: not counted.
    const shown = () => amy.state.messages.filter((m: { sender: string }) => m.sender !== "auto").length;
    const stored = async () => (await messageRows(app, c.id)).filter((m) => m.sender !== "auto").length;
    const before = { shown: shown(), stored: await stored() };
    expect(await jess.act("close")).toMatchObject({ ok: true });
    await waitFor(() => amy.state.status === "closed");
    expect(await jess.act("reopen")).toMatchObject({ ok: true });
    await waitFor(() => amy.state.status === "in_progress");
    await new Promise((r) => setTimeout(r, 100));
    expect(shown()).toBe(before.shown);
    expect(await stored()).toBe(before.stored);
    expect(systemLines(amy)).toEqual([]);
  });

  it("a member who opens later gets the earlier system messages in the state", async () => {
    const c = await createConversation(app, { follower: ID.admin });
    const jess = await connect(app, "admin", c.id);
    expect(await jess.act("add_collaborators", { memberIds: [ID.agent2, ID.agent3] })).toMatchObject({ ok: true });
    await closeAll();
    const eve = await connect(app, "agent2", c.id);
    expect(systemLines(eve)).toEqual([
      {
        kind: "members_joined",
        zh: "Eve 與其他 1 人加入了協作對話",
        en: expect.stringMatching(/^Eve and 1 others? joined the collaborative conversation$/),
      },
    ]);
  });
});
