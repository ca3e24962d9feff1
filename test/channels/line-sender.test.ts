import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { LineSender, lineRetryKey, lineText } from "../../server/channels/line/outbound.ts";
import { retryAfterMs } from "../../server/channels/sendText.ts";
import type { ChannelAccount, OutboundMessage } from "../../server/channels/types.ts";
import { ConfigError, parseConfig } from "../../server/config.ts";
import { FakeLine, lineGroupId, lineUserId } from "../support/fakes/line.ts";

const TOKEN = "line-access-token-1";
const account: ChannelAccount = {
  id: "ch-line",
  workspaceId: "ws",
  type: "line",
  status: "active",
  settings: {},
  secrets: { channelSecret: "s3cret", channelAccessToken: TOKEN },
};

let fake: FakeLine;
let sender: LineSender;
let seq = 0;

function message(over: Partial<OutboundMessage> = {}): OutboundMessage {
  seq += 1;
  return { conversationId: "conv-1", seq, retryKey: randomUUID(), recipient: lineUserId("alice"), text: `reply ${seq}`, ...over };
}

beforeAll(async () => {
  fake = await FakeLine.start([TOKEN]);
  sender = new LineSender({ apiBaseUrl: fake.url, timeoutMs: 500 });
});
afterAll(() => fake.stop());
afterEach(() => {
  expect(fake.violations()).toEqual([]);
});

describe("LINE sender against the fake Messaging API", () => {
  it("pushes the text to the user with the Bearer token, JSON body and the retry key, and answers sent with LINE's message id", async () => {
    const m = message({ text: "Hello 👋 from support" });
    const r = await sender.send(account, m);
    expect(r).toEqual({ ok: true, providerMessageId: fake.pushes.at(-1)!.id });
    const req = fake.requests.at(-1)!;
    expect(req.violations).toEqual([]);
    expect(req.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(req.headers["x-line-retry-key"]).toBe(m.retryKey);
    expect(req.body).toEqual({ to: lineUserId("alice"), messages: [{ type: "text", text: "Hello 👋 from support" }] });
  });

  it("a group conversation's reply goes to the group id", async () => {
    const r = await sender.send(account, message({ groupId: lineGroupId("team"), text: "to the group" }));
    expect(r.ok).toBe(true);
    expect(fake.pushes.at(-1)).toMatchObject({ to: lineGroupId("team"), texts: ["to the group"] });
  });

  it("a retry of an accepted message (same retry key) is answered 409 by LINE and counts as sent, once", async () => {
    const m = message();
    const first = await sender.send(account, m);
    const again = await sender.send(account, m);
    expect(first.ok && again.ok).toBe(true);
    expect(again).toEqual(first);
    expect(fake.pushes.filter((p) => p.retryKey === m.retryKey)).toHaveLength(1);
  });

  it("a retry key that is not a UUID becomes a stable UUID derived from conversation and seq", async () => {
    const m = message({ retryKey: "deliver_reply:conv-1:7", conversationId: "conv-1", seq: 7 });
    expect(lineRetryKey(m)).toBe(lineRetryKey({ ...m, retryKey: "other" }));
    expect(lineRetryKey(m)).not.toBe(lineRetryKey({ ...m, seq: 8 }));
    const r = await sender.send(account, m);
    expect(r.ok).toBe(true);
    expect(fake.requests.at(-1)!.headers["x-line-retry-key"]).toBe(lineRetryKey(m));
  });

  it("429 with Retry-After is transient with retryAfterMs, and nothing was accepted", async () => {
    const before = fake.pushes.length;
    fake.fail("push", { status: 429, retryAfter: "7", body: { message: "You have reached your monthly limit." } });
    const r = await sender.send(account, message());
    expect(r).toEqual({
      ok: false,
      transient: true,
      code: "LINE_RATE_LIMITED",
      reason: "You have reached your monthly limit.",
      retryAfterMs: 7000,
    });
    expect(fake.pushes.length).toBe(before);
  });

  it("500 is transient; the same message sent again afterwards goes out once", async () => {
    const m = message();
    fake.fail("push", { status: 500 });
    const r = await sender.send(account, m);
    expect(r).toMatchObject({ ok: false, transient: true, code: "LINE_UNAVAILABLE" });
    expect(await sender.send(account, m)).toMatchObject({ ok: true });
    expect(fake.pushes.filter((p) => p.retryKey === m.retryKey)).toHaveLength(1);
  });

  it("a push that does not answer within the deadline is transient LINE_TIMEOUT", async () => {
    fake.fail("push", { timeout: true });
    expect(await sender.send(account, message())).toMatchObject({ ok: false, transient: true, code: "LINE_TIMEOUT" });
  });

  it("a refused connection is transient LINE_NETWORK", async () => {
    const nowhere = new LineSender({ apiBaseUrl: "http://127.0.0.1:1", timeoutMs: 2000 });
    expect(await nowhere.send(account, message())).toMatchObject({ ok: false, transient: true, code: "LINE_NETWORK" });
  });

  it("400 / 401 / 403 / 404 are permanent with a stable code and LINE's message as the reason", async () => {
    fake.fail("push", {
      status: 400,
      body: { message: "The request body has 1 error(s)", details: [{ message: "Invalid user id", property: "to" }] },
    });
    expect(await sender.send(account, message())).toEqual({
      ok: false,
      transient: false,
      code: "LINE_INVALID_REQUEST",
      reason: "The request body has 1 error(s) (to: Invalid user id)",
    });
    expect(await sender.send({ ...account, secrets: { ...account.secrets, channelAccessToken: "wrong" } }, message())).toMatchObject({
      ok: false,
      transient: false,
      code: "LINE_UNAUTHORIZED",
    });
    fake.fail("push", { status: 403, body: { message: "Not authorized to use this API" } });
    expect(await sender.send(account, message())).toMatchObject({
      ok: false,
      transient: false,
      code: "LINE_FORBIDDEN",
      reason: "Not authorized to use this API",
    });
    fake.fail("push", { status: 404, body: { message: "Not found" } });
    expect(await sender.send(account, message())).toMatchObject({ ok: false, transient: false, code: "LINE_NOT_FOUND" });
  });

  it("an account without an access token fails permanently without calling LINE", async () => {
    const n = fake.requests.length;
    expect(await sender.send({ ...account, secrets: { channelSecret: "x" } }, message())).toMatchObject({
      ok: false,
      transient: false,
      code: "LINE_NOT_CONFIGURED",
    });
    expect(fake.requests.length).toBe(n);
  });

  it("a text over LINE's 5,000 characters is cut there, never inside a surrogate pair", async () => {
    const long = `${"a".repeat(4999)}😀tail`;
    expect(lineText(long)).toBe("a".repeat(4999));
    const r = await sender.send(account, message({ text: "b".repeat(6000) }));
    expect(r.ok).toBe(true);
    expect(fake.pushes.at(-1)!.texts[0]).toHaveLength(5000);
  });

  it("Retry-After as seconds or an HTTP date", () => {
    expect(retryAfterMs("3")).toBe(3000);
    expect(retryAfterMs(new Date(10_000 + 5000).toUTCString(), 10_000)).toBe(5000);
    expect(retryAfterMs("soon")).toBeUndefined();
    expect(retryAfterMs(undefined)).toBeUndefined();
  });

  it("LINE_API_BASE_URL: LINE's own host by default, a configured http(s) URL, anything else stops the start naming the variable", () => {
    expect(parseConfig({}).lineApiBaseUrl).toBe("https://api.line.me");
    expect(parseConfig({ LINE_API_BASE_URL: fake.url }).lineApiBaseUrl).toBe(fake.url);
    expect(() => parseConfig({ LINE_API_BASE_URL: "ftp://line.example" })).toThrow(ConfigError);
    expect(() => parseConfig({ LINE_API_BASE_URL: "not a url" })).toThrow(/LINE_API_BASE_URL/);
  });
});
