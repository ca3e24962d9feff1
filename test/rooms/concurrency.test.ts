import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import * as s from "../../db/schema.ts";
import { useTestServer } from "../support/server.ts";
import {
  type Conn,
  ID,
  closeAll,
  connect,
  conversationRow,
  createConversation,
  createMember,
  eventRows,
  messageRows,
  openInbox,
  waitFor,
} from "./helpers.ts";

const app = useTestServer();

/** Sends raw messages without waiting, then collects every answer carrying `requestId`. */
async function sendTogether(sends: { conn: Conn; type: string; payload: Record<string, unknown> }[]) {
  const starts = sends.map((x) => x.conn.results.length);
  for (const x of sends) x.conn.room.send(x.type, x.payload);
  await waitFor(() => sends.every((x, i) => x.conn.results.slice(starts[i]).some((r) => r.requestId === x.payload.requestId)));
  return sends.map((x, i) => x.conn.results.slice(starts[i]).find((r) => r.requestId === x.payload.requestId)!);
}

describe("racing writers", () => {
  it("[R1.1] [R1.2] two managers adding two collaborators each at once never make six", async () => {
    for (let round = 0; round < 3; round++) {
      const c = await createConversation(app, { follower: ID.admin, collaborators: [ID.supervisor, ID.agent, ID.agent2] });
      const extra = await createMember(app);
      const jess = await connect(app, "admin", c.id);
      const amy = await connect(app, "supervisor", c.id);
      const [a, b] = await sendTogether([
        { conn: jess, type: "add_collaborators", payload: { requestId: `race-a-${round}`, memberIds: [ID.manager, ID.marketing] } },
        { conn: amy, type: "add_collaborators", payload: { requestId: `race-b-${round}`, memberIds: [ID.agent3, extra.id] } },
      ]);
      const answers = [a!, b!];
      expect(answers.filter((r) => r.ok)).toHaveLength(1);
      expect(answers.filter((r) => !r.ok).map((r) => r.code)).toEqual(["COLLABORATOR_LIMIT"]);
      const row = await conversationRow(app, c.id);
      expect(row.collaboratorIds).toHaveLength(5);
      expect(new Set(row.collaboratorIds).size).toBe(5);
      // The loser added nothing: its two members are not there at all.
      const winner = a!.ok ? [ID.manager, ID.marketing] : [ID.agent3, extra.id];
      expect(row.collaboratorIds).toEqual([ID.supervisor, ID.agent, ID.agent2, ...winner]);
      expect(await eventRows(app, c.id)).toHaveLength(1);
      await waitFor(() => jess.state.collaborators.length === 5 && amy.state.collaborators.length === 5);
      await closeAll();
    }
  });

  it("[R1.1] [R4.1] a team viewer joining while the follower adds the fifth: only one gets the last seat", async () => {
    const c = await createConversation(app, { follower: ID.agent, collaborators: [ID.marketing, ID.agent2, ID.agent3] });
    const extra = await createMember(app);
    const dan = await connect(app, "agent", c.id);
    const amy = await connect(app, "supervisor", c.id, "team");
    const ben = await connect(app, "manager", c.id, "team");
    const answers = await sendTogether([
      { conn: dan, type: "add_collaborators", payload: { requestId: "seat-add", memberIds: [extra.id] } },
      { conn: amy, type: "join", payload: { requestId: "seat-amy" } },
      { conn: ben, type: "join", payload: { requestId: "seat-ben" } },
    ]);
    expect(answers.filter((r) => r.ok)).toHaveLength(2);
    expect(answers.filter((r) => !r.ok).map((r) => r.code)).toEqual(["COLLABORATOR_LIMIT"]);
    expect((await conversationRow(app, c.id)).collaboratorIds).toHaveLength(5);
  });

  it("[R1.1] a room holding a stale copy re-decides against the stored row and still refuses the sixth", async () => {
    const c = await createConversation(app, { follower: ID.admin, collaborators: [ID.supervisor] });
    const jess = await connect(app, "admin", c.id);
    // Another writer fills the conversation behind the room's back (and moves the version).
    await app.database.db
      .update(s.conversations)
      .set({ collaboratorIds: [ID.supervisor, ID.manager, ID.marketing, ID.agent, ID.agent2], version: 1 })
      .where(eq(s.conversations.id, c.id));
    const r = await jess.act("add_collaborators", { memberIds: [ID.agent3] });
    expect(r).toMatchObject({ ok: false, code: "COLLABORATOR_LIMIT" });
    const row = await conversationRow(app, c.id);
    expect(row.collaboratorIds).toHaveLength(5);
    expect(row.version).toBe(1);
    await waitFor(() => jess.state.collaborators.length === 5);
  });
});

describe("retried requests", () => {
  it("a retried reply (same request id) applies once; the retry answers duplicate: true", async () => {
    const c = await createConversation(app, { follower: ID.admin });
    const jess = await connect(app, "admin", c.id);
    const first = await jess.act("reply", { requestId: "retry-1", text: "on my way" });
    expect(first).toMatchObject({ ok: true });
    expect(first.duplicate).toBeFalsy();
    const second = await jess.act("reply", { requestId: "retry-1", text: "on my way" });
    expect(second).toMatchObject({ ok: true, duplicate: true });
    const rows = (await messageRows(app, c.id)).filter((m) => m.requestId === "retry-1");
    expect(rows).toHaveLength(1);
    expect(rows[0]!.body).toBe("on my way");
    await new Promise((r) => setTimeout(r, 100));
    expect(jess.state.messages.filter((m: { body: string }) => m.body === "on my way")).toHaveLength(1);
  });

  it("the same request sent twice at once applies once", async () => {
    const c = await createConversation(app, { follower: ID.admin });
    const jess = await connect(app, "admin", c.id);
    const phone = await connect(app, "admin", c.id);
    const answers = await sendTogether([
      { conn: jess, type: "reply", payload: { requestId: "twice", text: "once only" } },
      { conn: phone, type: "reply", payload: { requestId: "twice", text: "once only" } },
    ]);
    expect(answers.every((r) => r.ok)).toBe(true);
    expect(answers.filter((r) => r.duplicate === true)).toHaveLength(1);
    expect((await messageRows(app, c.id)).filter((m) => m.body === "once only")).toHaveLength(1);
  });

  it("a retried add applies once: one log line, one notice", async () => {
    const c = await createConversation(app, { follower: ID.admin });
    const inbox = await openInbox(app, "agent");
    const jess = await connect(app, "admin", c.id);
    expect((await jess.act("add_collaborators", { requestId: "add-once", memberIds: [ID.agent] })).ok).toBe(true);
    expect(await jess.act("add_collaborators", { requestId: "add-once", memberIds: [ID.agent] })).toMatchObject({
      ok: true,
      duplicate: true,
    });
    expect(await eventRows(app, c.id)).toHaveLength(1);
    await inbox.next(c.id);
    await new Promise((r) => setTimeout(r, 300));
    expect(inbox.about(c.id)).toHaveLength(1);
    const stored = await app.database.db
      .select()
      .from(s.notifications)
      .where(and(eq(s.notifications.conversationId, c.id), eq(s.notifications.memberId, ID.agent)));
    expect(stored).toHaveLength(1);
  });

  it("a request id is the member's own: another member's reply with the same id is a new reply", async () => {
    const c = await createConversation(app, { follower: ID.admin, collaborators: [ID.agent] });
    const jess = await connect(app, "admin", c.id);
    const dan = await connect(app, "agent", c.id);
    expect(await jess.act("reply", { requestId: "client-1", text: "from Jess" })).toMatchObject({ ok: true });
    const r = await dan.act("reply", { requestId: "client-1", text: "from Dan" });
    expect(r).toMatchObject({ ok: true });
    expect(r.duplicate).toBeFalsy();
    const bodies = (await messageRows(app, c.id)).map((m) => m.body);
    expect(bodies).toContain("from Jess");
    expect(bodies).toContain("from Dan");
  });
});
