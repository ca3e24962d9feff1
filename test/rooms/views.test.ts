import { describe, expect, it } from "vitest";
import { useTestServer } from "../support/server.ts";
import { ID, connect, createConversation, memberState, waitFor } from "./helpers.ts";

const app = useTestServer();

/** The `me` entries a connection's state holds, by member id. */
function meIds(conn: { state: any }): string[] {
  return [...conn.state.me.keys()];
}

describe("per-member view", () => {
  it("[R11.6] two members in one room each see only their own unread count", async () => {
    const c = await createConversation(app, {
      follower: ID.agent,
      collaborators: [ID.manager],
      texts: ["a", "b", "c"],
      unread: { [ID.agent]: 3, [ID.manager]: 1 },
    });
    const dan = await connect(app, "agent", c.id);
    const ben = await connect(app, "manager", c.id);
    await waitFor(() => dan.state.me.get(ID.agent) !== undefined && ben.state.me.get(ID.manager) !== undefined);
    expect(dan.state.me.get(ID.agent).unreadCount).toBe(3);
    expect(ben.state.me.get(ID.manager).unreadCount).toBe(1);
    // Give patches a moment: nothing of the other member may ever arrive.
    await new Promise((r) => setTimeout(r, 150));
    expect(meIds(dan)).toEqual([ID.agent]);
    expect(meIds(ben)).toEqual([ID.manager]);

    // A change to one member's entry reaches only that member.
    expect((await ben.act("mark_read")).ok).toBe(true);
    await waitFor(() => ben.state.me.get(ID.manager).unreadCount === 0);
    expect(dan.state.me.get(ID.agent).unreadCount).toBe(3);
    expect(meIds(dan)).toEqual([ID.agent]);
  });

  it("[R11.6] [R12.2] pinning by the follower does not pin for a collaborator", async () => {
    const c = await createConversation(app, { follower: ID.agent, collaborators: [ID.manager, ID.agent2] });
    const dan = await connect(app, "agent", c.id);
    const ben = await connect(app, "manager", c.id);
    const pinned = await dan.act("pin");
    expect(pinned.ok).toBe(true);
    await waitFor(() => dan.state.me.get(ID.agent)?.pinned === true);
    await new Promise((r) => setTimeout(r, 150));
    expect(ben.state.me.get(ID.manager).pinned).toBe(false);
    expect(meIds(ben)).toEqual([ID.manager]);
    expect((await memberState(app, c.id, ID.agent)).pinned).toBe(true);
    expect((await memberState(app, c.id, ID.manager)).pinned).toBe(false);
    expect((await memberState(app, c.id, ID.agent2)).pinned).toBe(false);

    // The collaborator pins on their own; the follower's unpin leaves it pinned for them.
    expect((await ben.act("pin")).ok).toBe(true);
    expect((await dan.act("unpin")).ok).toBe(true);
    await waitFor(() => dan.state.me.get(ID.agent).pinned === false);
    expect((await memberState(app, c.id, ID.manager)).pinned).toBe(true);
    await waitFor(() => ben.state.me.get(ID.manager).pinned === true);
  });

  it("[R11.6] a member's second device sees the same own entry, and still only it", async () => {
    const c = await createConversation(app, {
      follower: ID.agent,
      collaborators: [ID.manager],
      unread: { [ID.agent]: 2, [ID.manager]: 5 },
    });
    const phone = await connect(app, "agent", c.id);
    const web = await connect(app, "agent", c.id);
    const ben = await connect(app, "manager", c.id);
    await waitFor(() => web.state.me.get(ID.agent)?.unreadCount === 2 && phone.state.me.get(ID.agent)?.unreadCount === 2);
    expect((await web.act("mark_read")).ok).toBe(true);
    await waitFor(() => phone.state.me.get(ID.agent).unreadCount === 0);
    expect(meIds(phone)).toEqual([ID.agent]);
    expect(ben.state.me.get(ID.manager).unreadCount).toBe(5);
  });

  it("[R12.3] a pinned 1-on-1 conversation keeps its pin when it becomes collaborative", async () => {
    const c = await createConversation(app, { follower: ID.agent, pinned: [ID.agent] });
    const dan = await connect(app, "agent", c.id);
    await waitFor(() => dan.state.me.get(ID.agent)?.pinned === true);
    const added = await dan.act("add_collaborators", { memberIds: [ID.agent3] });
    expect(added.ok).toBe(true);
    await waitFor(() => dan.state.collaborative === true);
    expect(dan.state.me.get(ID.agent).pinned).toBe(true);
    expect((await memberState(app, c.id, ID.agent)).pinned).toBe(true);
    expect((await memberState(app, c.id, ID.agent3)).pinned).toBe(false);
  });
});
