import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { serveStatic } from "@hono/node-server/serve-static";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "./env.ts";

/**
 * `/`: the web console (web/, built by Vite into web/dist by `npm ci`'s `prepare` and `npm start`'s
 * `prestart`, see web/build.mjs). Static files from web/dist; any other GET that asks for HTML and
 * is not one of the server's own prefixes gets index.html (the console routes in the browser).
 * Registered after every route of the app, so it only sees paths no route took.
 */

export const CONSOLE_DIST = fileURLToPath(new URL("../../web/dist", import.meta.url));

/** Paths the console never answers: the API, its documents and everything else the server serves. */
const RESERVED = [
  "/api",
  "/auth",
  "/docs",
  "/openapi.json",
  "/widget",
  "/webhooks",
  "/channels",
  "/healthz",
  "/readyz",
  "/metrics",
  "/monitor",
  "/survey",
  "/matchmake",
];

export function isReservedPath(path: string): boolean {
  return RESERVED.some((prefix) => path === prefix || path.startsWith(`${prefix}/`));
}

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>Console not built</title>
<p>The web console has not been built. Run <code>npm run web:build</code> (or <code>npm start</code>, which builds it when missing).</p>`;

export function mountConsole(app: OpenAPIHono<AppEnv>, dist: string = CONSOLE_DIST): void {
  const files = serveStatic<AppEnv>({
    root: dist,
    // Hashed bundle names under /assets never change: cache them; index.html always revalidates.
    onFound: (path, c) => {
      c.header("cache-control", path.includes("/assets/") ? "public, max-age=31536000, immutable" : "no-cache");
    },
  });
  // A catch-all, not an API operation: registered as the last middleware (so the OpenAPI route
  // check, test/http/openapi.test.ts, does not count it), answering only GET and HEAD.
  app.use("*", async (c, next) => {
    if (c.req.method !== "GET" && c.req.method !== "HEAD") return next();
    const path = c.req.path;
    if (isReservedPath(path)) return c.notFound();
    const served = await files(c, async () => {});
    if (served) return served;
    if (c.finalized) return c.res;
    // SPA fallback: a page of the console (a deep link, a reload) asks for HTML.
    if (!(c.req.header("accept") ?? "").includes("text/html")) return c.notFound();
    // Read each time (a small file): a rebuild while the server runs names new bundles.
    const index = await readFile(`${dist}/index.html`, "utf8").catch(() => null);
    if (index === null) return c.html(NOT_BUILT, 503, { "cache-control": "no-store" });
    return c.html(index, 200, { "cache-control": "no-cache" });
  });
}
