import { matchMaker } from "@colyseus/core";
import type { ConversationRoom } from "../../rooms/ConversationRoom.ts";
import { withServiceDeadline } from "../serviceDeadline.ts";

/** How long the conversation's room (in any process) has to say who is connected. */
const VIEWERS_TIMEOUT_MS = 5000;

/**
 * The members who have the conversation open in a connected client now, wherever its room lives
 * (the matchmaker finds it across processes; `remoteRoomCall` asks it). No live room: nobody.
 * Throws when the presence or the room does not answer in time (the caller decides).
 */
export async function connectedMembers(conversationId: string): Promise<Set<string>> {
  // By id: one lookup (server/roomDrivers.ts), not a scan of every room listing.
  const found = await withServiceDeadline(matchMaker.getRoomById(conversationId), "matchMaker.getRoomById");
  if (found?.name !== "conversation") return new Set();
  const ids = await withServiceDeadline(
    matchMaker.remoteRoomCall<ConversationRoom, "connectedMemberIds">(conversationId, "connectedMemberIds", [], VIEWERS_TIMEOUT_MS),
    "room call",
    VIEWERS_TIMEOUT_MS + 1000,
  );
  return new Set(ids as string[]);
}
