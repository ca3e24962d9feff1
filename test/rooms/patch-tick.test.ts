import { matchMaker } from "@colyseus/core";
import { describe, expect, it } from "vitest";
import { IDLE_PATCH_MS } from "../../rooms/ConversationRoom.ts";
import { ID, connect, createConversation, useTestServer, waitFor } from "./helpers.ts";

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
