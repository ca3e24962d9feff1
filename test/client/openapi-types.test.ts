import { readFileSync } from "node:fs";
import openapiTS, { astToString } from "openapi-typescript";
import { expect, it } from "vitest";

/** The client's HTTP types are generated from docs/openapi.json (`npm run client:types`). */
const doc = JSON.parse(readFileSync(new URL("../../docs/openapi.json", import.meta.url), "utf8"));

it("client/openapi.d.ts is generated from the current docs/openapi.json (run `npm run client:types` after `npm run docs:openapi`)", async () => {
  const generated = astToString(await openapiTS(doc));
  const file = readFileSync(new URL("../../client/openapi.d.ts", import.meta.url), "utf8");
  // The CLI puts a comment header before the code; the code must be identical.
  expect(file.slice(file.indexOf("export interface paths"))).toBe(generated);
});

it("every route of the OpenAPI document has an operationId: camelCase and unique (the typed client's names)", () => {
  const ids: string[] = [];
  for (const [path, methods] of Object.entries(doc.paths as Record<string, Record<string, { operationId?: string }>>)) {
    for (const [method, op] of Object.entries(methods)) {
      expect(op.operationId, `${method.toUpperCase()} ${path}`).toMatch(/^[a-z][A-Za-z0-9]*$/);
      ids.push(op.operationId!);
    }
  }
  expect(new Set(ids).size).toBe(ids.length);
});
