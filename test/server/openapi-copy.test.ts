import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { useTestServer } from "../support/server.ts";

const app = useTestServer();

it("docs/openapi.json is the document the server serves (run `npm run docs:openapi` after changing a route)", async () => {
  const served = await (await fetch(`${app.url}/openapi.json`)).json();
  const copy = JSON.parse(readFileSync(new URL("../../docs/openapi.json", import.meta.url), "utf8"));
  expect(copy).toEqual(served);
});
