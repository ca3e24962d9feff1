import NodeWebSocket from "ws";

/**
 * Node 20 has no global `WebSocket` (Node 22 does). Colyseus 0.18 reads `WebSocket.OPEN` when a
 * dropped client reconnects into its kept seat (@colyseus/core Room `_onJoin`): on Node 20 that
 * threw, and every reconnection was refused with 4003 (the client then rejoined as a new one and
 * caught up, losing the kept seat of docs/protocol.md §2.8). The `ws` package's class — the one
 * Colyseus's transport and the Node SDK use anyway — fills the global where it is missing.
 */
if (typeof (globalThis as { WebSocket?: unknown }).WebSocket === "undefined") {
  Object.assign(globalThis, { WebSocket: NodeWebSocket });
}
