import { randomUUID } from "node:crypto";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import * as s from "../../db/schema.ts";
import { ID, WORKSPACE, api, connect, conversationRow, createConversation, tokenOf } from "../rooms/helpers.ts";
import { open, useTestServer } from "../support/server.ts";

/**
 * A room keeps the member rows and workspace settings its actions are decided with (no read per
 * action); every commit checks them against storage in the same statement (the fence), and a
 * refusal is decided on rows read again. Each test changes storage straight (no change notice
 * reaches the room), after an action warmed the room's copy, so only the fence or the re-read can
 * see the change.
 */
const app = useTestServer();

async function newMember(role: string): Promise<{ id: string; token: string }> {
  const key = randomUUID().slice(0, 8);
  const r = await api(app, await tokenOf(app, "admin"), "/api/v2/members", {
    method: "POST",
    body: { name: `Kept ${key}`, email: `kept-${key}@demo.test`, role, password: "a-long-password-42" },
  });
  expect(r.status).toBe(201);
  return { id: r.body.id, token: await tokenOf(app, r.body.id) };
}

describe("members and settings kept in the room", () => {
  it("[R6.1] a manager demoted in storage after the room knew them: the take over is refused, nothing written", async () => {
    const ben = await newMember("cs_manager");
    const c = await createConversation(app, { follower: ID.agent, collaborators: [ben.id] });
    const conn = await open(app, ben.token, c.id, "mine");
    expect((await conn.act("pin")).ok).toBe(true); // the room now holds Ben's row
    const before = await conversationRow(app, c.id);
    await app.database.db.update(s.members).set({ role: "agent" }).where(eq(s.members.id, ben.id));
    const r = await conn.act("take_over");
    expect([r.ok, r.code]).toEqual([false, "TAKE_OVER_NOT_ALLOWED"]);
    const after = await conversationRow(app, c.id);
    expect([after.version, after.followerId]).toEqual([before.version, ID.agent]);
    await conn.leave();
  });

  it("[R6.1] an agent promoted in storage after the room knew them may take over at once", async () => {
    const eve = await newMember("agent");
    const c = await createConversation(app, { follower: ID.agent, collaborators: [eve.id] });
    const conn = await open(app, eve.token, c.id, "mine");
    expect((await conn.act("pin")).ok).toBe(true);
    await app.database.db.update(s.members).set({ role: "cs_manager" }).where(eq(s.members.id, eve.id));
    const r = await conn.act("take_over");
    expect(r.ok).toBe(true);
    expect((await conversationRow(app, c.id)).followerId).toBe(eve.id);
    await conn.leave();
  });

  it("[R8.2] settings changed in storage apply to the next close of a room already warm", async () => {
    const csat = async (conversationId: string) =>
      (await app.database.db.select().from(s.outbox).where(eq(s.outbox.topic, "send_csat"))).filter(
        (r) => r.payload.kind === "effect" && r.payload.conversationId === conversationId,
      );
    const [ws] = await app.database.db.select().from(s.workspaces).where(eq(s.workspaces.id, WORKSPACE));
    const c = await createConversation(app, { follower: ID.agent, status: "in_progress" });
    const dan = await connect(app, "agent", c.id);
    expect((await dan.act("reply", { text: "warming up" })).ok).toBe(true);
    for (const csatOnClose of [true, false]) {
      await app.database.db
        .update(s.workspaces)
        .set({ settings: { ...ws!.settings, csatOnClose } })
        .where(eq(s.workspaces.id, WORKSPACE));
      expect((await dan.act("close")).ok).toBe(true);
      expect(await csat(c.id)).toHaveLength(1); // one CSAT: the close with csatOnClose on
      expect((await dan.act("reopen")).ok).toBe(true);
    }
    await app.database.db.update(s.workspaces).set({ settings: ws!.settings }).where(eq(s.workspaces.id, WORKSPACE));
  });

  it("a retried request the rules would now refuse is still answered duplicate (ARCHITECTURE invariant 6)", async () => {
    const c = await createConversation(app, { follower: ID.agent });
    const dan = await connect(app, "agent", c.id);
    const first = await dan.act("add_collaborators", { requestId: "add-once", memberIds: [ID.agent2] });
    expect(first.ok).toBe(true);
    const again = await dan.act("add_collaborators", { requestId: "add-once", memberIds: [ID.agent2] });
    expect(again).toMatchObject({ ok: true, duplicate: true });
    expect((await conversationRow(app, c.id)).collaboratorIds).toEqual([ID.agent2]);
  });
});
