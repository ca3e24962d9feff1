import { randomUUID } from "node:crypto";
import type { Room } from "@colyseus/sdk";
import { eq } from "drizzle-orm";
import * as s from "../../db/schema.ts";
import { describe, expect, it } from "vitest";
import { ID, WORKSPACE, api, connect, createConversation, tokenOf } from "./helpers.ts";
import { open, sdk, useTestServer, waitFor } from "../support/server.ts";

/**
 * Roles are live (docs/protocol.md §1, §2.6): a role change made over HTTP reaches the rooms the
 * member already has open, in this process. The same across two processes: test/server/live-roles-processes.test.ts.
 */
const app = useTestServer();

/** A fresh member of the demo workspace (so demoting them touches no other test), with a token. */
async function newMember(role: string): Promise<{ id: string; token: string }> {
  const key = randomUUID().slice(0, 8);
  const r = await api(app, await tokenOf(app, "admin"), "/api/v2/members", {
    method: "POST",
    body: { name: `Live ${key}`, email: `live-${key}@demo.test`, role, password: "a-long-password-42" },
  });
  expect(r.status).toBe(201);
  return { id: r.body.id, token: await tokenOf(app, r.body.id) };
}

async function setRole(memberId: string, role: string): Promise<void> {
  const r = await api(app, await tokenOf(app, "admin"), `/api/v2/members/${memberId}`, { method: "PATCH", body: { role } });
  expect([r.status, r.body.role]).toEqual([200, role]);
}

describe("a role change reaches the rooms a member has open", () => {
  it("[R6.1] a cs_manager demoted to agent in an open conversation: their next take over is refused, nothing changes", async () => {
    const ben = await newMember("cs_manager");
    const c = await createConversation(app, { follower: ID.agent, collaborators: [ben.id] });
    const conn = await open(app, ben.token, c.id, "mine");
    expect(conn.state.collaborators[0].role).toBe("cs_manager");

    await setRole(ben.id, "agent");
    // The state shows the new role once the change has reached the room.
    await waitFor(() => conn.state.collaborators[0].role === "agent");
    const r = await conn.act("take_over");
    expect([r.ok, r.code]).toEqual([false, "TAKE_OVER_NOT_ALLOWED"]);
    expect(conn.state.follower.id).toBe(ID.agent);
    // A participant stays a participant: the `mine` view stays open.
    expect(conn.closed).toBeNull();
    await conn.leave();
  });

  it("[R6.1] an agent promoted to cs_manager may take over at once, from the connection opened as an agent", async () => {
    const finn = await newMember("agent");
    const c = await createConversation(app, { follower: ID.agent, collaborators: [finn.id] });
    const conn = await open(app, finn.token, c.id, "mine");
    const before = await conn.act("take_over");
    expect([before.ok, before.code]).toEqual([false, "TAKE_OVER_NOT_ALLOWED"]);

    await setRole(finn.id, "cs_manager");
    await waitFor(() => conn.state.collaborators[0].role === "cs_manager");
    const r = await conn.act("take_over");
    expect(r.ok).toBe(true);
    await waitFor(() => conn.state.follower?.id === finn.id);
    await conn.leave();
  });

  it("[R4.1] [R1.4] a supervisor demoted out of TEAM_VIEWERS: their team view closes with 4105 view_not_allowed and cannot be opened again", async () => {
    const amy = await newMember("supervisor");
    const c = await createConversation(app, { follower: ID.agent });
    const conn = await open(app, amy.token, c.id, "team");
    // R1.4: from the team view a TEAM_VIEWER may reply to a 1-on-1 conversation.
    expect((await conn.act("reply", { text: "before" })).ok).toBe(true);
    const dan = await connect(app, "agent", c.id, "mine");

    await setRole(amy.id, "marketing_cs"); // a MANAGER still, but not a TEAM_VIEWER
    await waitFor(() => conn.closed !== null);
    expect(conn.closed).toEqual({ code: 4105, reason: "view_not_allowed" });
    // R4.1: no team view, so no join and no reply from it.
    await expect(open(app, amy.token, c.id, "team")).rejects.toMatchObject({ code: 403 });
    // Nobody else's connection was touched.
    expect(dan.closed).toBeNull();
    expect(dan.state.messages.at(-1).body).toBe("before");
  });

  it("[R4.1] a supervisor demoted to cs_manager keeps the team view and may still join from it", async () => {
    const amy = await newMember("supervisor");
    const c = await createConversation(app, { follower: ID.agent, collaborators: [ID.agent2] });
    const conn = await open(app, amy.token, c.id, "team");
    await setRole(amy.id, "cs_manager");
    // The member change is published before the team topic's: once the team room shows the new
    // role, the conversation room has had it too.
    const team = await sdk(app, await tokenOf(app, "admin")).joinOrCreate("team", { workspaceId: WORKSPACE });
    await waitFor(() => (team.state as any)?.members?.get(amy.id)?.role === "cs_manager");
    await team.leave();
    expect((await conn.act("join")).ok).toBe(true);
    expect(conn.closed).toBeNull();
    await conn.leave();
  });

  it("the team room closes a viewer demoted out of TEAM_VIEWERS with 4105 view_not_allowed", async () => {
    const boss = await newMember("cs_manager");
    const team: Room = await sdk(app, boss.token).joinOrCreate("team", { workspaceId: WORKSPACE });
    let closed: { code: number; reason?: string } | null = null;
    team.onLeave((code: number, reason?: string) => {
      closed = { code, reason };
    });
    await setRole(boss.id, "agent");
    await waitFor(() => closed !== null);
    expect(closed).toEqual({ code: 4105, reason: "view_not_allowed" });
  });

  it("[R6.1] [R1.4] the next action is decided with the role as stored, even before the change's notice reaches the room", async () => {
    const ben = await newMember("cs_manager");
    const c = await createConversation(app, { follower: ID.agent, collaborators: [ben.id] });
    const conn = await open(app, ben.token, c.id, "mine");
    // Written straight to storage: no notice is published, so only the lane's own read can see it.
    await app.database.db.update(s.members).set({ role: "agent" }).where(eq(s.members.id, ben.id));
    const r = await conn.act("take_over");
    expect([r.ok, r.code]).toEqual([false, "TAKE_OVER_NOT_ALLOWED"]);

    const amy = await newMember("supervisor");
    const team = await open(app, amy.token, c.id, "team");
    await app.database.db.update(s.members).set({ role: "agent" }).where(eq(s.members.id, amy.id));
    const reply = await team.act("reply", { text: "from a view no longer mine" });
    expect([reply.ok, reply.code]).toEqual([false, "VIEW_NOT_ALLOWED"]);
    await conn.leave();
    await team.leave();
  });
});
