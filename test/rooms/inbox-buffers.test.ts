import { matchMaker } from "@colyseus/core";
import { describe, expect, it } from "vitest";
import { INBOX_BUFFER_BYTES } from "../../rooms/InboxRoom.ts";
import { inboxRoomId } from "../../rooms/roomIds.ts";
import { ID, connect, createConversation, openInbox, useTestServer, waitFor } from "./helpers.ts";

/**
 * An inbox room holds small encode buffers (a process holds one inbox room per connected member:
 * docs/benchmarks.md, P3), reached through Colyseus's internals: if a Colyseus upgrade moves them,
 * this test says so instead of the memory quietly growing back.
 */
const app = useTestServer();

function buffersOf(memberId: string): { full: number; shared: number } {
  const room = matchMaker.getLocalRoomById(inboxRoomId(memberId)) as unknown as {
    _serializer: { fullEncodeBuffer: Uint8Array; encoder: { sharedBuffer: Uint8Array } };
  };
  return { full: room._serializer.fullEncodeBuffer.byteLength, shared: room._serializer.encoder.sharedBuffer.byteLength };
}

describe("inbox room memory", () => {
  it("holds encode buffers of INBOX_BUFFER_BYTES, and its state and patches still reach every device whole", async () => {
    const c = await createConversation(app, { follower: ID.admin, collaborators: [] });
    const phone = await openInbox(app, "supervisor");
    expect(buffersOf(ID.supervisor)).toEqual({ full: INBOX_BUFFER_BYTES, shared: INBOX_BUFFER_BYTES });
    const state = phone.room.state as { teamView: boolean; counts: Map<string, number>; unreadNotices: number };
    // The supervisor sees the team view: every count key of both views is in the first state.
    await waitFor(() => state.teamView && [...state.counts.keys()].some((k) => k.startsWith("team.")));
    const keys = [...state.counts.keys()].sort();
    const unread = state.unreadNotices;

    // A second device joins later (a full state from the small buffer), then a notice patches both.
    const laptop = await openInbox(app, "supervisor");
    const second = laptop.room.state as typeof state;
    await waitFor(() => [...second.counts.keys()].sort().join() === keys.join());
    const jess = await connect(app, "admin", c.id);
    expect((await jess.act("add_collaborators", { memberIds: [ID.supervisor] })).ok).toBe(true);
    await phone.next(c.id, "added_you");
    await laptop.next(c.id, "added_you");
    await waitFor(() => state.unreadNotices === unread + 1 && second.unreadNotices === unread + 1);
    expect(buffersOf(ID.supervisor)).toEqual({ full: INBOX_BUFFER_BYTES, shared: INBOX_BUFFER_BYTES });
  });
});
