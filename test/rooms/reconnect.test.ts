import { describe, expect, it } from "vitest";
import { EMAIL, ID, login, open, track, useTestServer, waitFor } from "../support/server.ts";

const app = useTestServer();

/** Cuts a client's TCP connection without a WebSocket close frame (the server sees 1006: a lost connection). */
function cutNetwork(room: { connection: { transport: unknown } }): void {
  const ws = (room.connection.transport as { ws: { _socket?: { destroy(): void } } }).ws;
  if (!ws._socket) throw new Error("no socket to cut");
  ws._socket.destroy();
}

describe("a dropped connection keeps its seat (docs/protocol.md §2.8)", () => {
  it("the SDK reconnects into the same seat; what was committed meanwhile is in the state once, and the member's own view is kept current", async () => {
    const follower = track(await open(app, await login(app, EMAIL.admin), "demo-collab-full"));
    const watcher = track(await open(app, await login(app, EMAIL.supervisor), "demo-collab-full", "team"));
    const sessionId = watcher.room.sessionId;
    let dropped = 0;
    let reconnected = 0;
    watcher.room.onDrop(() => {
      dropped++;
    });
    watcher.room.onReconnect(() => {
      reconnected++;
    });

    // The SDK reconnects only a room that had been open at least 5 s (docs/protocol.md §2.8).
    await new Promise((r) => setTimeout(r, 5_500));
    cutNetwork(watcher.room);
    await waitFor(() => dropped === 1);
    const text = `while away ${Date.now()}`;
    expect((await follower.act("reply", { text })).ok).toBe(true);
    await waitFor(() => reconnected === 1, 20_000);
    await waitFor(() => watcher.state.messages.some((m: { body: string }) => m.body === text));

    // The same seat (no new join), the entry once, the member's own view present and current.
    expect(watcher.room.sessionId).toBe(sessionId);
    expect(watcher.closed).toBeNull();
    expect(watcher.state.messages.filter((m: { body: string }) => m.body === text)).toHaveLength(1);
    expect(watcher.state.me.get(ID.supervisor)).toBeDefined();
    // And it acts again over the restored connection.
    expect((await watcher.act("mark_read")).ok).toBe(true);
  }, 60_000);
});
