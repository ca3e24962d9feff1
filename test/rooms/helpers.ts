/**
 * The room-test helpers, kept under their old import path: they live in test/support/ (demo.ts,
 * rooms.ts, fixtures.ts, http.ts, server.ts) so every area's tests share one copy.
 */
export * from "../support/demo.ts";
export * from "../support/fixtures.ts";
export * from "../support/http.ts";
export * from "../support/rooms.ts";
export { closeAll, Conn, type Result, track, useTestServer, waitFor } from "../support/server.ts";
