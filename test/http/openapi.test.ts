import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, expect, it } from "vitest";
import { httpAppOf } from "../support/httpApp.ts";
import { type App, startTestServer } from "../support/server.ts";

let app: App;
let doc: any;
beforeAll(async () => {
  app = await startTestServer();
  const res = await fetch(`${app.url}/openapi.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/application\/json/);
  doc = await res.json();
});
afterAll(async () => {
  await app?.stop();
});

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;
/** The documentation endpoints themselves are not operations of the API. */
// Pages and their assets, not API operations: the API reference, the Webchat widget (docs/protocol.md §7.15) and the survey page (§7.18).
const DOC_ROUTES = new Set(["GET /openapi.json", "GET /docs", "GET /docs/assets/swagger-ui-dist/{file}", "GET /widget", "GET /widget/colyseus.js", "GET /survey/{token}"]);

/** Every `METHOD /path` the document lists. */
function documented(): Set<string> {
  const out = new Set<string>();
  for (const [path, item] of Object.entries<any>(doc.paths ?? {})) {
    for (const m of METHODS) if (item[m]) out.add(`${m.toUpperCase()} ${path}`);
  }
  return out;
}

it("GET /openapi.json is a valid OpenAPI 3.1 document", async () => {
  expect(doc.openapi).toMatch(/^3\.1\./);
  const validator = new Validator();
  const result = await validator.validate(doc);
  expect(result.errors).toBeUndefined();
  expect(result.valid).toBe(true);
  expect(validator.version).toBe("3.1");
  // Every $ref resolves.
  expect(() => validator.resolveRefs()).not.toThrow();
  // The validator does reject a broken document (so this test can fail).
  const broken = await new Validator().validate({ ...doc, paths: { ...doc.paths, "/broken": { get: { responses: 5 } } } });
  expect(broken.valid).toBe(false);
});

it("every route of the HTTP app appears in the document, and the document lists nothing the app does not serve", async () => {
  // The same factory the server uses, with the running server's parts: its routes are the server's.
  const http = httpAppOf(app);
  const served = new Set(
    http.routes
      .filter((r) => r.method !== "ALL") // middleware
      .map((r) => `${r.method} ${r.path.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, "{$1}")}`)
      .filter((r) => !DOC_ROUTES.has(r)),
  );
  const listed = documented();
  expect([...served].filter((r) => !listed.has(r)).sort()).toEqual([]);
  expect([...listed].filter((r) => !served.has(r)).sort()).toEqual([]);
  expect(served.size).toBeGreaterThan(5);
});

it("every /api operation requires the bearer token and documents 401; every operation documents its error body", () => {
  for (const [path, item] of Object.entries<any>(doc.paths)) {
    for (const m of METHODS) {
      const op = item[m];
      if (!op) continue;
      const name = `${m.toUpperCase()} ${path}`;
      if (path.startsWith("/api/")) {
        expect([name, op.security]).toEqual([name, [{ bearerAuth: [] }]]);
        expect([name, Object.keys(op.responses)]).toEqual([name, expect.arrayContaining(["401"])]);
      }
      expect(op.tags?.length, `${name} has a tag`).toBeGreaterThan(0);
      for (const [status, response] of Object.entries<any>(op.responses)) {
        if (Number(status) < 400 || status === "503") continue;
        expect([name, status, response.content?.["application/json"]?.schema]).toEqual([name, status, expect.anything()]);
      }
    }
  }
  expect(doc.components?.securitySchemes?.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
});

it("the legacy v1 routes are documented under the tag 'legacy v1'", () => {
  for (const [path, method] of [
    ["/api/v1/conversations", "get"],
    ["/api/v1/conversations/{id}", "get"],
    ["/api/v1/conversations/{id}/messages", "post"],
  ] as const) {
    expect([path, doc.paths[path]?.[method]?.tags]).toEqual([path, ["legacy v1"]]);
  }
});

it("GET /docs serves the API reference page", async () => {
  const res = await fetch(`${app.url}/docs`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/text\/html/);
  const html = await res.text();
  expect(html).toMatch(/<html/i);
  expect(html).toContain("/openapi.json");
});

it("GET /docs works offline: every script and style it loads is served here, from swagger-ui-dist", async () => {
  const html = await (await fetch(`${app.url}/docs`)).text();
  const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
  expect(assets.length).toBeGreaterThanOrEqual(2);
  for (const asset of assets) {
    expect(asset, "no CDN").toMatch(/^\//);
    const res = await fetch(`${app.url}${asset}`);
    expect([asset, res.status]).toEqual([asset, 200]);
    expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(1000);
  }
  expect((await fetch(`${app.url}/docs/assets/swagger-ui-dist/package.json`)).status).toBe(404);
});
