import { describe, expect, it } from "vitest";
import { useTestServer } from "../support/server.ts";
import { ID, connect, conversationRow, createConversation, messageRows, unreadOf, waitFor } from "./helpers.ts";

const app = useTestServer();

describe("reply rights from the team view", () => {
  it("[R4.1] [R1.3] a team viewer reads a collaborative conversation but replies only after joining", async () => {
    const c = await createConversation(app, { follower: ID.agent, collaborators: [ID.marketing], texts: ["first", "second"] });
    const amy = await connect(app, "supervisor", c.id, "team");
    await waitFor(() => amy.state.messages.length === 2);
    expect(amy.state.messages.map((m: { body: string }) => m.body)).toEqual(["first", "second"]);
    expect(amy.state.me.get(ID.supervisor)).toBeDefined();

    const refused = await amy.act("reply", { text: "I can help" });
    expect(refused).toMatchObject({ ok: false, code: "REPLY_NOT_ALLOWED", message: "只有跟進者與協作者可以回覆，請先加入協作" });
    expect((await messageRows(app, c.id)).some((m) => m.body === "I can help")).toBe(false);

    expect(await amy.act("join")).toMatchObject({ ok: true });
    await waitFor(() => amy.state.collaborators.some((m: { id: string }) => m.id === ID.supervisor));
    expect(await amy.act("reply", { text: "I can help" })).toMatchObject({ ok: true });
    const row = (await messageRows(app, c.id)).find((m) => m.body === "I can help");
    expect(row).toMatchObject({ sender: "staff", senderId: ID.supervisor });
    // Joining did not make her the follower.
    expect((await conversationRow(app, c.id)).followerId).toBe(ID.agent);
  });

  it("[R1.4] [R11.5] a supervisor replies from the team view to a 1-on-1 conversation, clearing everyone's unread", async () => {
    const c = await createConversation(app, { follower: ID.agent, texts: ["a", "b", "c"], unread: { [ID.agent]: 3, [ID.manager]: 1 } });
    const dan = await connect(app, "agent", c.id);
    const amy = await connect(app, "supervisor", c.id, "team");
    await waitFor(() => dan.state.me.get(ID.agent)?.unreadCount === 3);
    expect(await amy.act("reply", { text: "We are on it" })).toMatchObject({ ok: true });
    await waitFor(() => dan.state.messages.at(-1)?.body === "We are on it");
    await waitFor(() => dan.state.me.get(ID.agent).unreadCount === 0);
    expect(await unreadOf(app, c.id, [ID.agent, ID.manager])).toEqual({ [ID.agent]: 0, [ID.manager]: 0 });
    // Replying from the team view does not make the supervisor a participant.
    const row = await conversationRow(app, c.id);
    expect(row.followerId).toBe(ID.agent);
    expect(row.collaboratorIds).toEqual([]);
  });
});

describe("who reading clears", () => {
  it("[R11.2] a team viewer reading a collaborative conversation clears nobody's unread", async () => {
    const c = await createConversation(app, {
      follower: ID.agent,
      collaborators: [ID.marketing],
      texts: ["a", "b"],
      unread: { [ID.agent]: 2, [ID.marketing]: 2, [ID.supervisor]: 2 },
    });
    const amy = await connect(app, "supervisor", c.id, "team");
    const dan = await connect(app, "agent", c.id);
    expect(await amy.act("mark_read")).toMatchObject({ ok: true });
    await new Promise((r) => setTimeout(r, 150));
    expect(await unreadOf(app, c.id, [ID.agent, ID.marketing])).toEqual({ [ID.agent]: 2, [ID.marketing]: 2 });
    expect(dan.state.me.get(ID.agent).unreadCount).toBe(2);
  });

  it("[R11.3] a participant reading from `mine` clears only their own unread; replying too", async () => {
    const c = await createConversation(app, {
      follower: ID.agent,
      collaborators: [ID.marketing, ID.manager],
      texts: ["a", "b", "c"],
      unread: { [ID.agent]: 3, [ID.marketing]: 3, [ID.manager]: 3 },
    });
    const cathy = await connect(app, "marketing", c.id);
    const ben = await connect(app, "manager", c.id);
    const dan = await connect(app, "agent", c.id);

    expect(await cathy.act("mark_read")).toMatchObject({ ok: true });
    await waitFor(() => cathy.state.me.get(ID.marketing).unreadCount === 0);
    expect(await unreadOf(app, c.id, [ID.agent, ID.marketing, ID.manager])).toEqual({ [ID.agent]: 3, [ID.marketing]: 0, [ID.manager]: 3 });

    expect(await ben.act("reply", { text: "checking" })).toMatchObject({ ok: true });
    await waitFor(() => ben.state.me.get(ID.manager).unreadCount === 0);
    expect(await unreadOf(app, c.id, [ID.agent, ID.marketing, ID.manager])).toEqual({ [ID.agent]: 3, [ID.marketing]: 0, [ID.manager]: 0 });
    expect(dan.state.me.get(ID.agent).unreadCount).toBe(3);
  });

  it("[R11.4] a 1-on-1 conversation in `mine / in_progress`: viewing clears the unread", async () => {
    const c = await createConversation(app, { follower: ID.agent, texts: ["a", "b"], unread: { [ID.agent]: 2 } });
    const dan = await connect(app, "agent", c.id);
    expect(await dan.act("mark_read")).toMatchObject({ ok: true });
    await waitFor(() => dan.state.me.get(ID.agent).unreadCount === 0);
    expect(await unreadOf(app, c.id, [ID.agent])).toEqual({ [ID.agent]: 0 });
  });

  it("[R11.4] a 1-on-1 conversation in `mine / in_progress`: replying clears the unread", async () => {
    const c = await createConversation(app, { follower: ID.agent, texts: ["a", "b"], unread: { [ID.agent]: 2 } });
    const dan = await connect(app, "agent", c.id);
    expect(await dan.act("reply", { text: "hello" })).toMatchObject({ ok: true });
    await waitFor(() => dan.state.me.get(ID.agent).unreadCount === 0);
    expect(await unreadOf(app, c.id, [ID.agent])).toEqual({ [ID.agent]: 0 });
  });

  it("[R11.5] a 1-on-1 conversation viewed from `team`: viewing does not clear", async () => {
    const c = await createConversation(app, { follower: ID.agent, texts: ["a", "b"], unread: { [ID.agent]: 2 } });
    const amy = await connect(app, "supervisor", c.id, "team");
    expect(await amy.act("mark_read")).toMatchObject({ ok: true });
    await new Promise((r) => setTimeout(r, 100));
    expect(await unreadOf(app, c.id, [ID.agent])).toEqual({ [ID.agent]: 2 });
  });
});
