import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import * as s from "../../db/schema.ts";
import { useTestServer } from "../support/server.ts";
import { type Conn, ID, connect, conversationRow, createConversation, createMember, eventRows, messageRows } from "./helpers.ts";

const app = useTestServer();

/** What a refused action must leave exactly as it was (ARCHITECTURE invariant 4). */
async function snapshot(id: string) {
  const row = await conversationRow(app, id);
  return {
    version: row.version,
    lastSeq: row.lastSeq,
    status: row.status,
    followerId: row.followerId,
    collaboratorIds: row.collaboratorIds,
    events: await eventRows(app, id),
    messages: (await messageRows(app, id)).length,
  };
}

/** Sends an action that the rules refuse; checks the answer and that nothing changed. */
async function expectRefused(conn: Conn, id: string, type: string, payload: Record<string, unknown>, code: string, message?: string) {
  const before = await snapshot(id);
  const r = await conn.act(type, payload);
  expect(r).toMatchObject({ ok: false, code });
  expect(typeof r.message).toBe("string");
  if (message) expect(r.message).toBe(message);
  expect(await snapshot(id)).toEqual(before);
  return r;
}

describe("refused actions change nothing", () => {
  it("[R8.1] a collaborator cannot close: COLLABORATOR_CANNOT_CLOSE in the member's language", async () => {
    const c = await createConversation(app, { follower: ID.admin, collaborators: [ID.agent, ID.agent2] });
    const dan = await connect(app, "agent", c.id);
    const eve = await connect(app, "agent2", c.id);
    await expectRefused(dan, c.id, "close", {}, "COLLABORATOR_CANNOT_CLOSE", "協作者無法結束對話");
    await expectRefused(eve, c.id, "close", {}, "COLLABORATOR_CANNOT_CLOSE", "Collaborators cannot close the conversation");
  });

  it("[R8.1] a supervisor collaborator cannot close either", async () => {
    const c = await createConversation(app, { follower: ID.agent, collaborators: [ID.supervisor, ID.admin] });
    const amy = await connect(app, "supervisor", c.id);
    const jess = await connect(app, "admin", c.id);
    await expectRefused(amy, c.id, "close", {}, "COLLABORATOR_CANNOT_CLOSE", "協作者無法結束對話");
    await expectRefused(jess, c.id, "close", {}, "COLLABORATOR_CANNOT_CLOSE", "協作者無法結束對話");
  });

  it("[R2.1] [R3.1] a plain-agent collaborator may not add or remove collaborators", async () => {
    const c = await createConversation(app, { follower: ID.admin, collaborators: [ID.agent, ID.manager] });
    const dan = await connect(app, "agent", c.id);
    await expectRefused(dan, c.id, "add_collaborators", { memberIds: [ID.agent3] }, "MANAGE_NOT_ALLOWED");
    await expectRefused(dan, c.id, "remove_collaborators", { memberIds: [ID.manager] }, "MANAGE_NOT_ALLOWED");
  });

  it("[R2.3] only active members who are not yet participants can be added", async () => {
    const c = await createConversation(app, { follower: ID.admin, collaborators: [ID.agent] });
    const gone = await createMember(app);
    await app.database.db.update(s.members).set({ status: "deactivated" }).where(eq(s.members.id, gone.id));
    const jess = await connect(app, "admin", c.id);
    await expectRefused(jess, c.id, "add_collaborators", { memberIds: [gone.id] }, "TARGET_INACTIVE");
    await expectRefused(jess, c.id, "add_collaborators", { memberIds: [ID.agent] }, "ALREADY_PARTICIPANT");
    await expectRefused(jess, c.id, "add_collaborators", { memberIds: [ID.admin] }, "ALREADY_PARTICIPANT");
    await expectRefused(jess, c.id, "add_collaborators", { memberIds: ["nobody-at-all"] }, "TARGET_NOT_FOUND");
    // A valid target next to a refused one: refused whole.
    await expectRefused(jess, c.id, "add_collaborators", { memberIds: [ID.agent3, gone.id] }, "TARGET_INACTIVE");
  });

  it("[R1.1] [R1.2] an add past five collaborators is refused whole", async () => {
    const c = await createConversation(app, { follower: ID.admin, collaborators: [ID.supervisor, ID.manager, ID.agent] });
    const jess = await connect(app, "admin", c.id);
    await expectRefused(
      jess,
      c.id,
      "add_collaborators",
      { memberIds: [ID.marketing, ID.agent2, ID.agent3] },
      "COLLABORATOR_LIMIT",
      "協作成員最多 5 位",
    );
    expect((await conversationRow(app, c.id)).collaboratorIds).toHaveLength(3);
  });

  it("[R4.1] [R1.1] a team viewer cannot join a conversation that already has five collaborators", async () => {
    const c = await createConversation(app, {
      follower: ID.agent,
      collaborators: [ID.manager, ID.marketing, ID.agent2, ID.agent3, (await createMember(app)).id],
    });
    const amy = await connect(app, "supervisor", c.id, "team");
    await expectRefused(amy, c.id, "join", {}, "COLLABORATOR_LIMIT");
  });

  it("[R4.2] a conversation with no follower cannot be joined", async () => {
    const c = await createConversation(app, { follower: null, status: "pending" });
    const amy = await connect(app, "supervisor", c.id, "team");
    await expectRefused(amy, c.id, "join", {}, "NO_FOLLOWER");
  });

  it("[R5.1] the follower cannot leave", async () => {
    const c = await createConversation(app, { follower: ID.agent, collaborators: [ID.manager] });
    const dan = await connect(app, "agent", c.id);
    await expectRefused(dan, c.id, "leave", {}, "FOLLOWER_CANNOT_LEAVE", "跟進者無法退出協作對話，請先移轉對話");
  });

  it("[R6.1] only a collaborator with a manager role may take over", async () => {
    const c = await createConversation(app, { follower: ID.admin, collaborators: [ID.agent, ID.agent2] });
    const dan = await connect(app, "agent", c.id);
    const jess = await connect(app, "admin", c.id);
    await expectRefused(dan, c.id, "take_over", {}, "TAKE_OVER_NOT_ALLOWED");
    await expectRefused(jess, c.id, "take_over", {}, "TAKE_OVER_NOT_ALLOWED"); // the follower already follows
  });

  it("[R7.1] the follower transfers only to a collaborator; a collaborator may not transfer", async () => {
    const c = await createConversation(app, { follower: ID.admin, collaborators: [ID.agent, ID.manager] });
    const jess = await connect(app, "admin", c.id);
    const ben = await connect(app, "manager", c.id);
    await expectRefused(jess, c.id, "transfer", { memberId: ID.agent3 }, "TRANSFER_TARGET_NOT_COLLABORATOR", "只能移轉給協作成員");
    await expectRefused(ben, c.id, "transfer", { memberId: ID.agent }, "TRANSFER_NOT_ALLOWED");
  });

  it("a reply to a closed conversation is refused until it is reopened", async () => {
    const c = await createConversation(app, { follower: ID.admin, collaborators: [ID.agent], status: "closed" });
    const dan = await connect(app, "agent", c.id);
    await expectRefused(dan, c.id, "reply", { text: "hello?" }, "CONVERSATION_CLOSED");
    await expectRefused(dan, c.id, "close", {}, "COLLABORATOR_CANNOT_CLOSE");
  });
});
