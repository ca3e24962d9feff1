import { matchMaker } from "@colyseus/core";
import { describe, expect, it } from "vitest";
import { IDLE_PATCH_MS } from "../../rooms/ConversationRoom.ts";
import { INBOX_IDLE_PATCH_MS } from "../../rooms/InboxRoom.ts";
import { inboxRoomId } from "../../rooms/roomIds.ts";
import { ID, connect, createConversation, openInbox, useTestServer, waitFor } from "./helpers.ts";

/**
 * A conversation room sends each change's patch at once and ticks only as a safety net
 * (`IDLE_PATCH_MS`): the rooms a bulk job or a webhook burst creates have no client and live on
 * for the seat reservation time, and at Colyseus's default tick (every 50 ms) thousands of them
 * cost more CPU than the work (docs/benchmarks.md, P5).
 */
const app = useTestServer();

describe("a conversation room's patches", () => {
  it("tick once a second, and an action's patch reaches the actor before its result and the other participants with it", async () => {
    const c = await createConversation(app, { follower: ID.admin, collaborators: [ID.agent] });
    const jess = await connect(app, "admin", c.id);
    const dan = await connect(app, "agent", c.id);
    const room = matchMaker.getLocalRoomById(c.id) as unknown as { patchRate: number };
    expect(IDLE_PATCH_MS).toBeGreaterThanOrEqual(1000);
    expect(room.patchRate).toBe(IDLE_PATCH_MS);
    for (const text of ["one", "two", "three"]) {
      const answer = await jess.act("reply", { text });
      expect(answer.ok).toBe(true);
      // The same socket carries the patch, then the result: the state already holds the reply.
      expect(jess.state.messages.at(-1)?.body).toBe(text);
      await waitFor(() => dan.state.messages.at(-1)?.body === text);
    }
  });
});

describe("an inbox room's patches", () => {
  it("tick only as a safety net (INBOX_IDLE_PATCH_MS), and a notice's unread count reaches every device at once", async () => {
    const c = await createConversation(app, { follower: ID.admin, collaborators: [] });
    const phone = await openInbox(app, "supervisor");
    const room = matchMaker.getLocalRoomById(inboxRoomId(ID.supervisor)) as unknown as { patchRate: number };
    expect(INBOX_IDLE_PATCH_MS).toBeGreaterThanOrEqual(10_000);
    expect(room.patchRate).toBe(INBOX_IDLE_PATCH_MS);
    const state = phone.room.state as { unreadNotices: number };
    const unread = state.unreadNotices;
    const jess = await connect(app, "admin", c.id);
    expect((await jess.act("add_collaborators", { memberIds: [ID.supervisor] })).ok).toBe(true);
    // Far sooner than the tick: the change sent its own patch.
    await waitFor(() => state.unreadNotices === unread + 1, INBOX_IDLE_PATCH_MS / 5);
  });
});
