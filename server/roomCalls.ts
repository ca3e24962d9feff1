import { ServerError, matchMaker } from "@colyseus/core";
import { DomainError, ErrorCode } from "../domain/errors.ts";
import type { Answer } from "../rooms/protocol.ts";
import type { ConversationRoom, ServerInput } from "../rooms/ConversationRoom.ts";
import { SERVICE_DEADLINE_MS, asServiceFailure, withServiceDeadline } from "./serviceDeadline.ts";

/**
 * How long a room has to answer a server-side action. It covers the room's lane (actions queued
 * before this one) and the action's own commit, each statement bounded by the database timeout.
 */
const ROOM_CALL_TIMEOUT_MS = 15_000;

const creating = new Map<string, Promise<void>>();

/** A room that could not be created because its conversation does not exist is NOT_FOUND, not an outage. */
function asRoomFailure(err: unknown): unknown {
  if (err instanceof ServerError && err.code === 404) return new DomainError(ErrorCode.NOT_FOUND);
  return asServiceFailure(err);
}

/** The matchmaker's lookup (Redis with `REDIS_URL`), bounded: a Redis outage is SERVICE_UNAVAILABLE. */
async function findRoom(conversationId: string): Promise<boolean> {
  try {
    // By id: one lookup (server/roomDrivers.ts), not a scan of every listing.
    const found = await withServiceDeadline(matchMaker.getRoomById(conversationId), "matchMaker.getRoomById");
    return found?.name === "conversation";
  } catch (err) {
    throw asServiceFailure(err);
  }
}

/**
 * Makes sure the conversation's room is live somewhere, creating it here if it is nowhere.
 * Throws SERVICE_UNAVAILABLE when the presence does not answer in time, STORAGE_UNAVAILABLE when
 * the room cannot load the conversation for that reason.
 */
export async function ensureConversationRoom(conversationId: string): Promise<void> {
  if (await findRoom(conversationId)) return;
  let pending = creating.get(conversationId);
  if (!pending) {
    pending = (async () => {
      if (await findRoom(conversationId)) return;
      try {
        // Creating loads the conversation (database) and registers the room (presence).
        await withServiceDeadline(matchMaker.createRoom("conversation", { conversationId }), "matchMaker.createRoom", 2 * SERVICE_DEADLINE_MS);
      } catch (err) {
        throw asRoomFailure(err);
      }
    })().finally(() => creating.delete(conversationId));
    creating.set(conversationId, pending);
  }
  await pending;
}

/**
 * Hands a server-side action to the conversation's room, so it goes through the same lane,
 * rules, commit and notices as a member's action (ARCHITECTURE: every writer, one path).
 * A room that does not answer in time is SERVICE_UNAVAILABLE: the action may still be applied
 * later, and retrying it with the same request id is safe (the room answers `duplicate`).
 */
export async function callConversation(conversationId: string, input: ServerInput): Promise<Answer> {
  for (let attempt = 0; ; attempt++) {
    await ensureConversationRoom(conversationId);
    try {
      const call = matchMaker.remoteRoomCall<ConversationRoom>(conversationId, "serverAction", [input], ROOM_CALL_TIMEOUT_MS);
      // The IPC subscribe that precedes the call's own timeout can itself wait on Redis: bound it all.
      return (await withServiceDeadline(call, "room call", ROOM_CALL_TIMEOUT_MS + SERVICE_DEADLINE_MS)) as Answer;
    } catch (e) {
      // The room may have been disposed between the lookup and the call: try once more.
      if (attempt >= 1) throw asServiceFailure(e);
    }
  }
}
