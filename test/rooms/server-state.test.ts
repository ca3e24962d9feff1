import { type Room, matchMaker } from "@colyseus/core";
import { describe, expect, it } from "vitest";
import type { ConversationState } from "../../rooms/state.ts";
import { colyseusTesting } from "../support/colyseus.ts";
import { createConversation } from "../support/fixtures.ts";
import { tokenOf } from "../support/rooms.ts";
import { ID, useTestServer } from "../support/server.ts";

/**
 * The authoritative side of a conversation room, read from the live room instance through
 * `@colyseus/testing` (test/support/colyseus.ts) next to what the SDK clients receive.
 */
const app = useTestServer();

async function joinAs(who: "agent" | "manager", conversationId: string) {
  const t = colyseusTesting(app);
  // The room is created where it lives (here) by the matchmaker, as a join would; then read as an instance.
  if (!matchMaker.getLocalRoomById(conversationId)) await t.createRoom("conversation", { conversationId });
  const room = t.getRoomById(conversationId) as Room<{ state: ConversationState }>;
  t.sdk.auth.token = await tokenOf(app, who);
  const client = await t.connectTo(room, { conversationId, view: "mine" });
  return { room, client };
}

describe("the room's own state", () => {
  it("[R11.6] holds one `me` entry per connected member; each client receives only its own; an entry leaves with its member's last connection", async () => {
    const c = await createConversation(app, { follower: ID.agent, collaborators: [ID.manager], unread: { [ID.agent]: 2, [ID.manager]: 1 } });
    const dan = await joinAs("agent", c.id);
    const ben = await joinAs("manager", c.id);
    const room = dan.room;
    expect([...room.state.me.keys()].sort()).toEqual([ID.agent, ID.manager].sort());
    expect(room.state.me.get(ID.agent)?.unreadCount).toBe(2);
    // connectTo resolved after the first state: each client already holds exactly its own entry.
    expect([...(dan.client.state as any).me.keys()]).toEqual([ID.agent]);
    expect([...(ben.client.state as any).me.keys()]).toEqual([ID.manager]);

    await ben.client.leave();
    await room.waitForNextPatch();
    expect([...room.state.me.keys()]).toEqual([ID.agent]);
    await dan.client.leave();
  });

  it("a refused action leaves the authoritative state exactly as it was (ARCHITECTURE invariant 4)", async () => {
    const c = await createConversation(app, { follower: ID.agent, collaborators: [ID.manager] });
    const dan = await joinAs("agent", c.id);
    const before = JSON.stringify(dan.room.state.toJSON());
    const answers: any[] = [];
    dan.client.onMessage("result", (a) => answers.push(a));
    // R5.1: the follower cannot leave; R6.1: the follower does not take over; R7.1: no transfer to a non-collaborator.
    dan.client.send("leave", { requestId: "s-1" });
    dan.client.send("take_over", { requestId: "s-2" });
    dan.client.send("transfer", { requestId: "s-3", memberId: ID.agent2 });
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (answers.length === 3) {
          clearInterval(check);
          resolve();
        }
      }, 10);
    });
    expect(answers.map((a) => [a.requestId, a.ok])).toEqual([
      ["s-1", false],
      ["s-2", false],
      ["s-3", false],
    ]);
    expect(JSON.stringify(dan.room.state.toJSON())).toBe(before);
    await dan.client.leave();
  });
});
