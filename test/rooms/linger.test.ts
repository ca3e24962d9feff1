import { matchMaker } from "@colyseus/core";
import { describe, expect, it } from "vitest";
import { SERVER_CALL_LINGER_S } from "../../rooms/ConversationRoom.ts";
import { callConversation } from "../../server/roomCalls.ts";
import { ID, connect, createConversation, useTestServer, waitFor } from "./helpers.ts";

/**
 * A conversation room that a server-side call created (a bulk item, a webhook's customer message,
 * a timer) and that nobody joined is disposed SERVER_CALL_LINGER_S after the call, not after
 * Colyseus's seat reservation time (15 s): a bulk job creates one per item (docs/benchmarks.md,
 * P5). A room with a client stays as long as it has one.
 */
const app = useTestServer();
const COLYSEUS_WAIT_MS = 15_000;

const live = (id: string) => matchMaker.getLocalRoomById(id) !== undefined;

describe("a room a server call created", () => {
  it("is disposed SERVER_CALL_LINGER_S after the call when nobody joined, well before Colyseus's 15 s", async () => {
    expect(SERVER_CALL_LINGER_S * 1000).toBeLessThan(COLYSEUS_WAIT_MS / 2);
    const c = await createConversation(app, { follower: ID.agent });
    const answer = await callConversation(c.id, { type: "customer_message", requestId: "linger-1", text: "hello", customerId: c.customerId });
    expect(answer.ok).toBe(true);
    const answeredAt = Date.now();
    expect(live(c.id)).toBe(true);
    await waitFor(() => !live(c.id), COLYSEUS_WAIT_MS);
    expect(Date.now() - answeredAt).toBeLessThan(COLYSEUS_WAIT_MS - 3_000);
  });

  it("stays while a member is connected, through calls, and is disposed once they leave", async () => {
    const c = await createConversation(app, { follower: ID.agent });
    const dan = await connect(app, "agent", c.id);
    const answer = await callConversation(c.id, { type: "customer_message", requestId: "linger-2", text: "hello", customerId: c.customerId });
    expect(answer.ok).toBe(true);
    await waitFor(() => dan.state.messages.at(-1)?.body === "hello");
    await new Promise((r) => setTimeout(r, (SERVER_CALL_LINGER_S + 1) * 1000));
    expect(live(c.id)).toBe(true);
    expect((await dan.act("reply", { text: "still here" })).ok).toBe(true);
    await dan.leave();
    await waitFor(() => !live(c.id), COLYSEUS_WAIT_MS);
  });
});
