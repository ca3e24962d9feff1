import http from "node:http";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { BULK_BODY_LIMIT, DEFAULT_BODY_LIMIT } from "../../server/http/edge.ts";
import { EMAIL, login, useTestServer } from "../support/server.ts";

/**
 * Body-size limits: a body over its route's limit is refused with 413 PAYLOAD_TOO_LARGE before it
 * is read whole (from Content-Length at once, or while it streams in), and a 100 MB body leaves
 * the server's memory where it was. The server runs in this process, so this process's RSS is the
 * server's.
 */
const app = useTestServer();

const MB = 1024 * 1024;

/** A body of `total` bytes made on demand (never held whole), counting what was pulled. */
function lazyBody(total: number): { stream: Readable; sent: () => number } {
  let sent = 0;
  const chunk = Buffer.alloc(64 * 1024, "a");
  const stream = new Readable({
    read() {
      if (sent >= total) return void this.push(null);
      const n = Math.min(chunk.length, total - sent);
      sent += n;
      this.push(n === chunk.length ? chunk : chunk.subarray(0, n));
    },
  });
  return { stream, sent: () => sent };
}

/** POSTs `total` bytes of JSON-typed body to `path`, with or without Content-Length; stops sending on the answer. */
function post(path: string, total: number, withLength: boolean, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: any; sent: number }>((resolve, reject) => {
    const { stream, sent } = lazyBody(total);
    const req = http.request(`${app.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(withLength ? { "content-length": String(total) } : {}), ...headers },
    });
    req.on("response", (res) => {
      const parts: Buffer[] = [];
      res.on("data", (b: Buffer) => parts.push(b));
      res.on("end", () => {
        const text = Buffer.concat(parts).toString("utf8");
        stream.destroy();
        req.destroy();
        let body: unknown = null;
        try {
          body = JSON.parse(text);
        } catch {
          body = text;
        }
        resolve({ status: res.statusCode ?? 0, body, sent: sent() });
      });
    });
    req.on("error", (e: NodeJS.ErrnoException) => {
      // The server may close the connection after answering; the answer has already resolved us.
      if (e.code !== "ECONNRESET" && e.code !== "EPIPE") reject(e);
    });
    stream.pipe(req);
  });
}

describe("a body over the limit is 413 PAYLOAD_TOO_LARGE, refused early", () => {
  for (const withLength of [true, false]) {
    it(`100 MB to POST /auth/login ${withLength ? "with" : "without"} Content-Length: 413, memory flat`, async () => {
      global.gc?.();
      const before = process.memoryUsage().rss;
      const r = await post("/auth/login", 100 * MB, withLength);
      const after = process.memoryUsage().rss;
      expect(r.status).toBe(413);
      expect(r.body).toMatchObject({ code: "PAYLOAD_TOO_LARGE", message: expect.any(String) });
      // Refused early: far from the whole 100 MB went out before the answer came back.
      expect(r.sent).toBeLessThan(50 * MB);
      expect(after - before).toBeLessThan(50 * MB);
      // The server keeps serving.
      const ok = await fetch(`${app.url}/healthz`);
      expect(ok.status).toBe(200);
    });
  }

  it("the limit is per route class: just over 64 KiB is refused on login, accepted as far as size goes on a bulk route", async () => {
    const over = DEFAULT_BODY_LIMIT + 1;
    const login413 = await post("/auth/login", over, false);
    expect([login413.status, login413.body.code]).toEqual([413, "PAYLOAD_TOO_LARGE"]);
    const token = await login(app, EMAIL.admin);
    // Not JSON, but under the bulk limit: refused for its content (400), not its size.
    const bulk = await post("/api/v2/bulk/close", over, true, { authorization: `Bearer ${token}` });
    expect([bulk.status, bulk.body.code]).toEqual([400, "INVALID_PAYLOAD"]);
    const bulkOver = await post("/api/v2/bulk/close", BULK_BODY_LIMIT + 1, false, { authorization: `Bearer ${token}` });
    expect([bulkOver.status, bulkOver.body.code]).toEqual([413, "PAYLOAD_TOO_LARGE"]);
  });

  it("a body within the limit is served as before", async () => {
    const res = await fetch(`${app.url}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: EMAIL.agent, password: "demo-password" }),
    });
    expect(res.status).toBe(200);
  });

  it("a body within the limit nested 32,000 levels deep is refused 400, not a 500: nothing walks it by recursion", async () => {
    const nested = `${"[".repeat(32_000)}"x"${"]".repeat(32_000)}`; // 64,003 bytes: within the limit
    for (const [path, auth, field] of [
      ["/auth/login", false, "email"],
      ["/api/v2/bulk/close", true, "conversationIds"],
    ] as const) {
      const res = await app.http.request(path, {
        method: "POST",
        headers: { "content-type": "application/json", ...(auth ? { authorization: `Bearer ${await login(app, EMAIL.agent)}` } : {}) },
        body: `{"${field}":${nested}}`,
      });
      expect([path, res.status, ((await res.json()) as { code: string }).code]).toEqual([path, 400, "INVALID_PAYLOAD"]);
    }
  });
});
