import { matchMaker } from "@colyseus/core";
import type { Answer } from "../rooms/protocol.ts";
import type { ConversationRoom, ServerInput } from "../rooms/ConversationRoom.ts";

const creating = new Map<string, Promise<void>>();

/** Makes sure the conversation's room is live somewhere, creating it here if it is nowhere. */
export async function ensureConversationRoom(conversationId: string): Promise<void> {
  const existing = await matchMaker.query({ name: "conversation", roomId: conversationId });
  if (existing.length > 0) return;
  let pending = creating.get(conversationId);
  if (!pending) {
    pending = (async () => {
      const again = await matchMaker.query({ name: "conversation", roomId: conversationId });
      if (again.length === 0) await matchMaker.createRoom("conversation", { conversationId });
    })().finally(() => creating.delete(conversationId));
    creating.set(conversationId, pending);
  }
  await pending;
}

/**
 * Hands a server-side action to the conversation's room, so it goes through the same lane,
 * rules, commit and notices as a member's action (ARCHITECTURE: every writer, one path).
 */
export async function callConversation(conversationId: string, input: ServerInput): Promise<Answer> {
  for (let attempt = 0; ; attempt++) {
    await ensureConversationRoom(conversationId);
    try {
      return (await matchMaker.remoteRoomCall<ConversationRoom>(conversationId, "serverAction", [input], 15_000)) as Answer;
    } catch (e) {
      // The room may have been disposed between the lookup and the call: try once more.
      if (attempt >= 1) throw e;
    }
  }
}
