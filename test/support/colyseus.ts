import { ColyseusSDK } from "@colyseus/sdk";
import { ColyseusTestServer } from "@colyseus/testing";
import type { App } from "./server.ts";

/**
 * `@colyseus/testing` over our own started server: live room instances (`getRoomById`), server-side
 * waits (`room.waitForNextPatch()`, `waitForMessage`) and SDK joins that resolve once the first
 * state arrived (`connectTo`). Its `boot()` is not used: it listens on a fixed port (two test
 * workers would collide) and builds its own server, while ours comes from `startApp` (database,
 * migrations, services, HTTP, jobs). The SDK it makes reads the configured port, which is 0 in
 * tests, so it is pointed at the port the server really listens on.
 */
export function colyseusTesting(app: App): ColyseusTestServer {
  const t = new ColyseusTestServer(app.colyseus);
  t.sdk = new ColyseusSDK(`ws://127.0.0.1:${app.port}`);
  return t;
}
