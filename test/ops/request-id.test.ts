import { Writable } from "node:stream";
import fc from "fast-check";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { httpAppOf } from "../support/httpApp.ts";
import { MAX_REQUEST_ID_LENGTH, isSafeRequestId, requestIdFrom } from "../../server/http/requestLog.ts";
import { EMAIL } from "../support/demo.ts";
import { useTestServer } from "../support/server.ts";

/** Request ids (the `X-Request-Id` header and every error body) and request log lines (server/http/requestLog.ts). */

const lines: Record<string, unknown>[] = [];
const sink = new Writable({
  write(chunk, _enc, done) {
    for (const line of String(chunk).split("\n")) if (line) lines.push(JSON.parse(line));
    done();
  },
});
const app = useTestServer({ log: pino({ level: "info" }, sink) });

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const SAFE = /^[A-Za-z0-9._:+=/-]{1,128}$/;

describe("the request id's sanitization (property-based)", () => {
  it("any header value gives a safe id: the value itself when it is 1–128 safe characters, else a fresh UUID", () => {
    const safeChar = fc.constantFrom(..."ABCXYZabcxyz0189._:+=/-");
    const anyValue = fc.oneof(
      fc.string({ unit: safeChar, minLength: 1, maxLength: 140 }),
      fc.string({ unit: "binary", maxLength: 200 }),
      fc.string({ unit: "grapheme", maxLength: 40 }),
      fc.constantFrom("", " ", "a b", "a\r\nX-Evil: 1", "a\u0000", "ok\n", `${"a".repeat(128)}`, `${"a".repeat(129)}`, "../../etc", "<script>"),
    );
    fc.assert(
      fc.property(anyValue, (value) => {
        const id = requestIdFrom(value);
        expect(id).toMatch(SAFE);
        expect(id.length).toBeLessThanOrEqual(MAX_REQUEST_ID_LENGTH);
        if (SAFE.test(value)) expect(id).toBe(value);
        else expect(id).toMatch(UUID);
        expect(isSafeRequestId(value)).toBe(SAFE.test(value));
      }),
      { seed: 7, numRuns: 2000 },
    );
    expect(requestIdFrom(undefined)).toMatch(UUID);
    expect(requestIdFrom(null)).toMatch(UUID);
    expect(requestIdFrom(undefined)).not.toBe(requestIdFrom(undefined));
  });

  it("over HTTP, for any header value a client can send: the answer's header is the value (safe) or a new id, and the error body carries the same", async () => {
    const headerChar = fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c));
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: headerChar, minLength: 1, maxLength: 160 }), async (value) => {
        const res = await app.http.request("/no-such-route", { headers: { "x-request-id": value } });
        expect(res.status).toBe(404);
        const id = res.headers.get("x-request-id")!;
        expect(id).toBe(SAFE.test(value) ? value : id);
        if (!SAFE.test(value)) expect(id).toMatch(UUID);
        expect(((await res.json()) as { requestId: string }).requestId).toBe(id);
      }),
      { seed: 11, numRuns: 150 },
    );
  });
});

describe("the X-Request-Id header", () => {
  it("is on every answer: generated when none is sent (a new one each time), echoed when a well-formed one is", async () => {
    const a = await fetch(`${app.url}/healthz`);
    const b = await fetch(`${app.url}/healthz`);
    expect(a.status).toBe(200);
    expect(a.headers.get("x-request-id")).toMatch(UUID);
    expect(b.headers.get("x-request-id")).not.toBe(a.headers.get("x-request-id"));
    const given = "trace-2f9c.41:span=7/abc";
    const c = await fetch(`${app.url}/healthz`, { headers: { "x-request-id": given } });
    expect(c.headers.get("x-request-id")).toBe(given);
    const tooLong = "x".repeat(129);
    const d = await fetch(`${app.url}/healthz`, { headers: { "x-request-id": tooLong } });
    expect(d.headers.get("x-request-id")).toMatch(UUID);
  });

  it("is in every error body as `requestId`, whichever part answered: not found, bad input, wrong password, no token, body too large, unstorable query", async () => {
    const given = "client-req-0042";
    const cases: [string, RequestInit, number, string][] = [
      ["/nope", {}, 404, "NOT_FOUND"],
      ["/auth/login", { method: "POST", headers: { "content-type": "application/json" }, body: "{" }, 400, "INVALID_PAYLOAD"],
      ["/auth/login", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: EMAIL.admin, password: "wrong" }) }, 401, "INVALID_CREDENTIALS"],
      ["/api/v2/me", {}, 401, "UNAUTHENTICATED"],
      ["/auth/login", { method: "POST", headers: { "content-type": "application/json" }, body: "x".repeat(70_000) }, 413, "PAYLOAD_TOO_LARGE"],
      ["/api/v2/conversations?cursor=%00", {}, 400, "INVALID_PAYLOAD"],
    ];
    for (const [path, init, status, code] of cases) {
      for (const sent of [given, undefined]) {
        const headers = new Headers(init.headers);
        if (sent) headers.set("x-request-id", sent);
        const res = await fetch(`${app.url}${path}`, { ...init, headers });
        expect(res.status, path).toBe(status);
        const body = (await res.json()) as { code: string; message: string; requestId: string };
        expect(body.code, path).toBe(code);
        expect(typeof body.message).toBe("string");
        expect(body.requestId, path).toBe(res.headers.get("x-request-id"));
        if (sent) expect(body.requestId).toBe(sent);
        else expect(body.requestId).toMatch(UUID);
      }
    }
  });

  it("a success body is left as it was (no requestId added)", async () => {
    const res = await fetch(`${app.url}/healthz`);
    expect(await res.json()).toEqual({ ok: true });
  });
});

describe("request logs", () => {
  it("one line per request: method, path without the query, status, duration, request id, address; no query secret reaches the log", async () => {
    const secret = "s3cret-verify-token-in-query";
    const id = `log-test-${Date.now()}`;
    const res = await fetch(`${app.url}/webhooks/whatsapp/no-such-channel?hub.mode=subscribe&hub.verify_token=${secret}&hub.challenge=1`, {
      headers: { "x-request-id": id },
    });
    expect(res.status).toBe(404);
    let line: Record<string, unknown> | undefined;
    for (let i = 0; i < 50 && !line; i++) {
      line = lines.find((l) => l.requestId === id && l.status !== undefined);
      if (!line) await new Promise((r) => setTimeout(r, 20));
    }
    expect(line).toMatchObject({ method: "GET", path: "/webhooks/whatsapp/no-such-channel", status: 404, requestId: id });
    expect(typeof line!.durationMs).toBe("number");
    expect(line!.address).toMatch(/127\.0\.0\.1/);
    expect(JSON.stringify(lines)).not.toContain(secret);
  });
});

describe("the client address in logs (TRUSTED_PROXIES)", () => {
  it("0: the socket's address, X-Forwarded-For ignored; n: the n-th X-Forwarded-For entry from the end", async () => {
    const addressOf = async (trustedProxies: number, forwarded?: string) => {
      const http = httpAppOf(app, { trustedProxies });
      const id = `addr-${trustedProxies}-${Math.random().toString(36).slice(2)}`;
      const headers: Record<string, string> = { "x-request-id": id };
      if (forwarded) headers["x-forwarded-for"] = forwarded;
      // As the Node adapter passes it: the socket the request came on.
      await http.request("/healthz", { headers }, { incoming: { socket: { remoteAddress: "10.9.8.7" } } });
      return lines.find((l) => l.requestId === id && l.status !== undefined)?.address;
    };
    expect(await addressOf(0, "1.1.1.1")).toBe("10.9.8.7");
    expect(await addressOf(1, "1.1.1.1, 2.2.2.2")).toBe("2.2.2.2");
    expect(await addressOf(2, "1.1.1.1, 2.2.2.2")).toBe("1.1.1.1");
    expect(await addressOf(1)).toBe("10.9.8.7"); // no header: the socket's
    expect(await addressOf(3, "1.1.1.1")).toBe("10.9.8.7"); // fewer entries than proxies: the socket's
  });
});
