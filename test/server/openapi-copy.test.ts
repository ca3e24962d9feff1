import { readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type App, startTestServer } from "../support/server.ts";

let app: App;
beforeAll(async () => {
  app = await startTestServer();
});
afterAll(async () => {
  await app?.stop();
});

it("docs/openapi.json is the document the server serves (run `npm run docs:openapi` after changing a route)", async () => {
  const served = await (await fetch(`${app.url}/openapi.json`)).json();
  const copy = JSON.parse(readFileSync(new URL("../../docs/openapi.json", import.meta.url), "utf8"));
  expect(copy).toEqual(served);
});
