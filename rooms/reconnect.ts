import type { Client, Room } from "@colyseus/core";
import { type MemberRow, loadMembers } from "../db/repository.ts";
import { CloseCode } from "./closeCodes.ts";
import { services } from "./ports.ts";

/**
 * Reconnection of dropped clients (docs/protocol.md §2.8). A connection lost without a leave
 * (network, a sleeping laptop: close codes 1001/1005/1006) keeps its seat for the window: the SDK
 * reconnects to it by itself and the member finds the room as they left it (their view, unread
 * count and pin, the per-member state kept in the room). Past the window the seat is freed and the
 * client rejoins like a new one, then catches up (`catch_up`, §2.7).
 */
let windowSeconds = 20;

/** Set once by the composition root from `RECONNECT_WINDOW_SECONDS`. */
export function useReconnectWindow(seconds: number): void {
  windowSeconds = seconds;
}

export function reconnectWindowSeconds(): number {
  return windowSeconds;
}

/**
 * Codes of a connection closed on purpose (an eviction, a shutdown; a client's normal close, 1000,
 * after which the SDK does not reconnect): such a connection is not dropped but ended, and its
 * seat is never kept.
 */
const ENDED = new Set<number>([...Object.values(CloseCode), 1000, 4000, 4001, 4002, 4003]);

/** The close was the server's or the client's decision (not a lost connection). */
export function isEnded(code: number | undefined): boolean {
  return code !== undefined && ENDED.has(code);
}

/**
 * Called from a room's `onDrop`: keeps the client's seat for the window, unless the room is
 * shutting down or the close was an ending. Not awaited: Colyseus calls the room's `onLeave` if
 * the window passes without the client (or at once when no seat is kept).
 */
export function holdSeat(room: Room, client: Client, code: number | undefined, shuttingDown: boolean): void {
  if (shuttingDown || windowSeconds === 0 || isEnded(code)) return;
  Promise.resolve(room.allowReconnection(client, windowSeconds)).catch(() => {
    // the window passed, or the room is disposing: onLeave follows
  });
}

/**
 * A reconnected connection skips `onAuth`: its member as stored now, or null when no longer
 * active (the room closes it with 4104).
 */
export async function activeMember(workspaceId: string, memberId: string): Promise<MemberRow | null> {
  const row = (await loadMembers(services().db, workspaceId, [memberId])).get(memberId);
  return row?.status === "active" ? row : null;
}
