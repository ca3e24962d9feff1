import { describe, expect, it } from "vitest";
import { useTestServer } from "../support/server.ts";
import { ID, connect, conversationRow, createConversation, memberState, openInbox, waitFor } from "./helpers.ts";

const app = useTestServer();

const settle = () => new Promise((r) => setTimeout(r, 200));

describe("evictions", () => {
  it("[R3.2] [R3.5] a removed collaborator's connections close with 4101 and they are told who removed them", async () => {
    const c = await createConversation(app, { follower: ID.admin, collaborators: [ID.agent, ID.manager] });
    const inbox = await openInbox(app, "agent");
    const jess = await connect(app, "admin", c.id);
    const dan = await connect(app, "agent", c.id);
    const danPhone = await connect(app, "agent", c.id);
    const ben = await connect(app, "manager", c.id);

    const r = await jess.act("remove_collaborators", { memberIds: [ID.agent] });
    expect(r.ok).toBe(true);
    await waitFor(() => dan.closed !== null && danPhone.closed !== null);
    expect(dan.closed?.code).toBe(4101);
    expect(danPhone.closed?.code).toBe(4101);

    const notice = await inbox.next(c.id, "removed_you");
    expect(notice.text).toBe(`Jess (管理員) 將你退出 ${c.customerName} 的協作對話`);

    // Everyone else stays, and sees the new shape.
    await waitFor(() => ben.state.collaborators.length === 1);
    await settle();
    expect(ben.closed).toBeNull();
    expect(jess.closed).toBeNull();
    expect((await conversationRow(app, c.id)).collaboratorIds).toEqual([ID.manager]);
  });

  it("[R3.1] [R3.2] [R3.6] a manager collaborator removes the last other collaborator: 4101, and a 1-on-1 again when none is left", async () => {
    const c = await createConversation(app, { follower: ID.agent, collaborators: [ID.supervisor, ID.agent2] });
    const amy = await connect(app, "supervisor", c.id);
    const eve = await connect(app, "agent2", c.id);
    const dan = await connect(app, "agent", c.id);
    expect((await amy.act("remove_collaborators", { memberIds: [ID.agent2] })).ok).toBe(true);
    await waitFor(() => eve.closed !== null);
    expect(eve.closed?.code).toBe(4101);
    // The follower removes the last collaborator: the conversation is 1-on-1 again.
    expect((await dan.act("remove_collaborators", { memberIds: [ID.supervisor] })).ok).toBe(true);
    await waitFor(() => amy.closed !== null);
    expect(amy.closed?.code).toBe(4101);
    await waitFor(() => dan.state.collaborative === false);
    const row = await conversationRow(app, c.id);
    expect(row.collaboratorIds).toEqual([]);
    expect(row.followerId).toBe(ID.agent);
    expect(row.status).toBe("in_progress");
  });

  it("[R5.3] a leaver's connection closes with 4102 and all their devices are told", async () => {
    const c = await createConversation(app, { follower: ID.admin, collaborators: [ID.agent, ID.manager] });
    const web = await openInbox(app, "agent");
    const phone = await openInbox(app, "agent");
    const benInbox = await openInbox(app, "manager");
    const dan = await connect(app, "agent", c.id);
    const ben = await connect(app, "manager", c.id);

    const r = await dan.act("leave");
    expect(r.ok).toBe(true);
    await waitFor(() => dan.closed !== null);
    expect(dan.closed?.code).toBe(4102);
    for (const inbox of [web, phone]) {
      const notice = await inbox.next(c.id, "you_left");
      expect(notice.text).toBe(`已退出 ${c.customerName} 的協作對話`);
    }
    await settle();
    expect(ben.closed).toBeNull();
    expect(benInbox.about(c.id)).toEqual([]);
    expect((await conversationRow(app, c.id)).collaboratorIds).toEqual([ID.manager]);
  });

  it("[R8.2] [R8.3] [R12.4] closing evicts the collaborators with 4103, tells each of them, and removes every pin", async () => {
    const c = await createConversation(app, {
      follower: ID.admin,
      collaborators: [ID.agent, ID.manager],
      pinned: [ID.admin, ID.agent, ID.manager, ID.supervisor],
    });
    const danInbox = await openInbox(app, "agent");
    const benInbox = await openInbox(app, "manager");
    const jessInbox = await openInbox(app, "admin");
    const jess = await connect(app, "admin", c.id);
    const dan = await connect(app, "agent", c.id);
    const ben = await connect(app, "manager", c.id);
    await waitFor(() => jess.state.me.get(ID.admin)?.pinned === true);

    const r = await jess.act("close");
    expect(r.ok).toBe(true);
    await waitFor(() => dan.closed !== null && ben.closed !== null);
    expect(dan.closed?.code).toBe(4103);
    expect(ben.closed?.code).toBe(4103);
    expect((await danInbox.next(c.id, "closed_by")).text).toBe("Jess 已將對話結束");
    expect((await benInbox.next(c.id, "closed_by")).text).toBe("Jess 已將對話結束");

    // The follower's view stays open and shows the close; their pin is gone too.
    await waitFor(() => jess.state.status === "closed");
    await waitFor(() => jess.state.me.get(ID.admin).pinned === false);
    expect(jess.closed).toBeNull();
    expect(jessInbox.about(c.id)).toEqual([]);
    for (const id of [ID.admin, ID.agent, ID.manager, ID.supervisor]) {
      expect((await memberState(app, c.id, id)).pinned).toBe(false);
    }
    const row = await conversationRow(app, c.id);
    expect(row.status).toBe("closed");
    expect(row.followerId).toBe(ID.admin);
    expect(row.collaboratorIds).toEqual([ID.agent, ID.manager]);
  });
});
