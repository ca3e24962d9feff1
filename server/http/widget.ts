import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { selectChannelAccount } from "../../db/channels.ts";
import type { AppDeps, AppEnv } from "./env.ts";

/**
 * `/widget?channel=<id>`: the Webchat widget page (plain HTML, no build step) and the Colyseus
 * SDK's browser bundle it loads, served from the installed `@colyseus/sdk` package.
 */

const require = createRequire(import.meta.url);
let page: string | null = null;
let sdk: Buffer | null = null;

/**
 * Who may frame the page: with the channel's `settings.allowedOrigins`, those origins (and the
 * server's own), as a CSP `frame-ancestors`; without, anyone.
 */
async function frameAncestors(deps: AppDeps, channelId: string | undefined): Promise<string | null> {
  if (!channelId) return null;
  const channel = await selectChannelAccount(deps.database.db, channelId, "webchat");
  const allowed = channel?.settings.allowedOrigins;
  return Array.isArray(allowed) ? ["'self'", ...allowed.map(String)].join(" ") : null;
}

export function mountWidget(app: OpenAPIHono<AppEnv>, deps: AppDeps): void {
  app.get("/widget", async (c) => {
    page ??= readFileSync(new URL("../widget/widget.html", import.meta.url), "utf8");
    const ancestors = await frameAncestors(deps, c.req.query("channel"));
    return c.html(page, 200, {
      "cache-control": "no-cache",
      ...(ancestors ? { "content-security-policy": `frame-ancestors ${ancestors}` } : {}),
    });
  });
  app.get("/widget/colyseus.js", (c) => {
    // The package's `exports` do not expose `dist/`: found next to its package.json.
    sdk ??= readFileSync(join(dirname(require.resolve("@colyseus/sdk/package.json")), "dist", "colyseus.js"));
    return c.body(new Uint8Array(sdk), 200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "public, max-age=86400" });
  });
}
