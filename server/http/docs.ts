import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { swaggerUI } from "@hono/swagger-ui";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "./env.ts";

/**
 * `/docs`: Swagger UI over `/openapi.json`, its script and style served from the installed
 * `swagger-ui-dist` package (its version pinned by package-lock.json), so the page works without
 * internet access.
 */

const ASSET_BASE = "/docs/assets";
const require = createRequire(import.meta.url);
const ASSETS: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
};
const cache = new Map<string, Buffer>();

function asset(name: string): Buffer {
  let body = cache.get(name);
  if (!body) {
    body = readFileSync(require.resolve(`swagger-ui-dist/${name}`));
    cache.set(name, body);
  }
  return body;
}

/** Mounts `/docs` and its assets on `app`. */
export function mountDocs(app: OpenAPIHono<AppEnv>): void {
  // @hono/swagger-ui builds `${baseUrl}/swagger-ui-dist/<file>`; without a version, no `@x.y.z`.
  app.get("/docs", swaggerUI({ url: "/openapi.json", baseUrl: ASSET_BASE, title: "Collaborative inbox API" }));
  app.get(`${ASSET_BASE}/swagger-ui-dist/:file`, (c) => {
    const file = c.req.param("file");
    const type = ASSETS[file];
    if (!type) return c.notFound();
    return c.body(new Uint8Array(asset(file)), 200, { "content-type": type, "cache-control": "public, max-age=86400" });
  });
}
