import { randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import { count, eq } from "drizzle-orm";
import pino from "pino";
import { describe, expect, it } from "vitest";
import * as s from "../../db/schema.ts";
import { Auth } from "../../server/auth.ts";
import { ConfigError, parseConfig } from "../../server/config.ts";
import { hashSecret } from "../../server/http/webchat.ts";
import { LimitName, RateLimits } from "../../server/rateLimit.ts";
import { childRedis } from "../support/child.ts";
import { EMAIL, WORKSPACE } from "../support/demo.ts";
import { conversationRow, createConversation, createMember, messageRows } from "../support/fixtures.ts";
import { connect } from "../support/rooms.ts";
import { type App, useTestServer } from "../support/server.ts";

/**
 * Rate limits (server/rateLimit.ts, server/http/limits.ts, the conversation room's gate): sign-ins
 * per account and per address, room messages per member, webhooks per channel. A refusal is 429
 * `RATE_LIMITED` with `Retry-After` (rooms: the action's result with `retryAfterMs`), is logged, and
 * changes nothing. The same suite runs on memory counts and, with REDIS_URL, on Redis counts.
 *
 * Redis: this file's server uses Redis database 0 with keys of its own (unique emails, members and
 * channels), so it shares nothing with other files' servers there.
 */

const REDIS_URL = process.env.REDIS_URL;
const LIMITS = {
  RATE_LIMIT_LOGIN_ACCOUNT: "10/900s",
  RATE_LIMIT_LOGIN_ADDRESS: "5/900s",
  RATE_LIMIT_ROOM_ACTIONS: "5/60s",
  RATE_LIMIT_WEBHOOKS: "3/60s",
};

interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

function capture() {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split("\n")) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, log: pino({ level: "info" }, sink) };
}

const key = () => randomUUID().slice(0, 8);

/** A member of the demo workspace who can sign in with `password`. */
async function memberWithPassword(app: App, password: string): Promise<{ id: string; email: string }> {
  const m = await createMember(app);
  await app.database.db
    .update(s.members)
    .set({ passwordHash: await Auth.hashPassword(password) })
    .where(eq(s.members.id, m.id));
  return { id: m.id, email: `${m.id}@test.test` };
}

async function refreshTokensOf(app: App, memberId: string): Promise<number> {
  const [row] = await app.database.db.select({ n: count() }).from(s.refreshTokens).where(eq(s.refreshTokens.memberId, memberId));
  return Number(row?.n ?? 0);
}

function loginRequest(email: string, password: string): RequestInit {
  return { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email, password }) };
}

async function expectLimited(res: Response, maxSeconds: number) {
  expect(res.status).toBe(429);
  const retryAfter = Number(res.headers.get("retry-after"));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(maxSeconds);
  const body = (await res.json()) as { code: string; requestId: string; detail: { retryAfterSeconds: number } };
  expect(body.code).toBe("RATE_LIMITED");
  expect(body.requestId).toBe(res.headers.get("x-request-id"));
  expect(body.detail.retryAfterSeconds).toBe(retryAfter);
}

function suite(store: "memory" | "redis") {
  const { lines, log } = capture();
  const app = useTestServer({ env: { ...LIMITS, ...(store === "redis" ? childRedis(0) : {}) }, log });

  it(`counts on ${store}`, () => {
    expect(app.limits.store).toBe(store);
    expect(app.limits.rules.room_action).toEqual({ points: 5, seconds: 60 });
  });

  it("30 wrong passwords for one account at once: 10 answered INVALID_CREDENTIALS, 20 refused 429; then even the right password is refused, nothing is created; logged", async () => {
    const password = "right-password-1";
    const m = await memberWithPassword(app, password);
    const before = await refreshTokensOf(app, m.id);
    // In-process requests have no address: only the account's limit applies.
    const answers = await Promise.all(Array.from({ length: 30 }, () => app.http.request("/auth/login", loginRequest(m.email, "guess"))));
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((st) => st === 401)).toHaveLength(10);
    expect(statuses.filter((st) => st === 429)).toHaveLength(20);
    for (const r of answers.filter((a) => a.status === 429)) await expectLimited(r, 900);

    // The account stays locked for the window, whatever the password; the email's case does not matter.
    await expectLimited(await app.http.request("/auth/login", loginRequest(m.email, password)), 900);
    await expectLimited(await app.http.request("/auth/login", loginRequest(m.email.toUpperCase(), password)), 900);
    expect(await refreshTokensOf(app, m.id)).toBe(before);
    // Another account is not affected.
    expect((await app.http.request("/auth/login", loginRequest(EMAIL.agent, "demo-password"))).status).toBe(200);

    const limited = lines.filter((l) => l.msg === "sign-in rate limited" && l.account === m.email);
    expect(limited.length).toBe(22);
    expect(limited[0]).toMatchObject({ level: 40, limit: "login_account" });
    expect(lines.filter((l) => l.msg === "sign-in failed: wrong email or password" && l.account === m.email)).toHaveLength(10);
  });

  it("a right password does not count: many sign-ins of one account in a row all succeed", async () => {
    const m = await memberWithPassword(app, "right-password-2");
    for (let i = 0; i < 15; i++) expect((await app.http.request("/auth/login", loginRequest(m.email, "right-password-2"))).status).toBe(200);
  });

  it("right passwords at once past the limit: some may wait (429), but none counts, and the account is not locked afterwards", async () => {
    const m = await memberWithPassword(app, "right-password-3");
    const answers = await Promise.all(Array.from({ length: 30 }, () => app.http.request("/auth/login", loginRequest(m.email, "right-password-3"))));
    expect(answers.every((r) => r.status === 200 || r.status === 429)).toBe(true);
    expect(answers.some((r) => r.status === 200)).toBe(true);
    // Nothing was a failure: ten wrong passwords still get their ten attempts after this.
    for (let i = 0; i < 10; i++) expect((await app.http.request("/auth/login", loginRequest(m.email, "guess"))).status).toBe(401);
    await expectLimited(await app.http.request("/auth/login", loginRequest(m.email, "guess")), 900);
  });

  it("per address: wrong passwords for many accounts from one address are limited; other addresses are not", async () => {
    const m = await memberWithPassword(app, "right-password-3");
    // Redis keeps counts across runs of this file: start this address from zero.
    for (const address of ["127.0.0.1", "::ffff:127.0.0.1", "::1"]) await app.limits.clear(LimitName.loginAddress, address);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await fetch(`${app.url}/auth/login`, loginRequest(`nobody-${key()}@test.test`, "guess"))).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401]);
    await expectLimited(await fetch(`${app.url}/auth/login`, loginRequest(`nobody-${key()}@test.test`, "guess")), 900);
    // The address is locked, even for a right password…
    await expectLimited(await fetch(`${app.url}/auth/login`, loginRequest(m.email, "right-password-3")), 900);
    // …and the account is not (in-process: another address, as it were).
    expect((await app.http.request("/auth/login", loginRequest(m.email, "right-password-3"))).status).toBe(200);
    expect(lines.some((l) => l.msg === "sign-in rate limited" && l.limit === "login_address" && String(l.address).includes("127.0.0.1"))).toBe(true);
  });

  it("room messages per member: past the limit the action is answered RATE_LIMITED with retryAfterMs, and nothing changes; another member is served", async () => {
    const m = await createMember(app);
    const other = await createMember(app);
    const c = await createConversation(app, { follower: m.id, collaborators: [other.id] });
    const mine = await connect(app, m.id, c.id);
    const theirs = await connect(app, other.id, c.id);
    for (let i = 0; i < 5; i++) expect(await mine.act("mark_read")).toMatchObject({ ok: true });
    const before = await conversationRow(app, c.id);
    const messagesBefore = (await messageRows(app, c.id)).length;

    const refused = await mine.act("reply", { text: "one too many" });
    expect(refused).toMatchObject({ ok: false, code: "RATE_LIMITED" });
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(60_000);
    expect(typeof refused.message).toBe("string");
    // Queries count too; every one is answered.
    expect(await mine.act("history", { limit: 5 })).toMatchObject({ ok: false, code: "RATE_LIMITED" });
    expect(await conversationRow(app, c.id)).toEqual(before);
    expect(await messageRows(app, c.id)).toHaveLength(messagesBefore);
    expect(mine.closed).toBeNull();

    expect(await theirs.act("reply", { text: "still served" })).toMatchObject({ ok: true });
    expect(lines.some((l) => l.msg === "room messages rate limited" && l.memberId === m.id)).toBe(true);
  });

  it("webhooks per channel: past the limit 429 with Retry-After and nothing stored; another channel is not affected", async () => {
    const channelId = `wc-${key()}`;
    const secret = `secret-${key()}`;
    await app.database.db.insert(s.channels).values({ id: channelId, workspaceId: WORKSPACE, type: "webchat", name: "Limited", secretHash: hashSecret(secret) });
    const post = (messageId: string, id = channelId, sec = secret) =>
      fetch(`${app.url}/channels/webchat/${id}/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-channel-secret": sec },
        body: JSON.stringify({ messageId, customer: { id: `visitor-${channelId}`, name: "Visitor" }, text: `message ${messageId}` }),
      });
    for (const id of ["a", "b", "c"]) expect((await post(id)).status).toBe(202);
    await expectLimited(await post("d"), 60);
    const stored = await app.database.db.select().from(s.inboundEvents).where(eq(s.inboundEvents.channelId, channelId));
    expect(stored.map((e) => e.providerEventId).sort()).toEqual(["a", "b", "c"]);
    // Counted per channel: the demo channel still answers (here: its own refusal of a wrong secret).
    expect((await post("x", "demo-webchat", "wrong")).status).toBe(401);
    // A provider webhook path is limited by its channel id too.
    const line = `line-${key()}`;
    for (let i = 0; i < 3; i++) expect((await fetch(`${app.url}/webhooks/line/${line}`, { method: "POST", body: "{}" })).status).toBe(404);
    await expectLimited(await fetch(`${app.url}/webhooks/line/${line}`, { method: "POST", body: "{}" }), 60);
  });
}

describe("on memory counts", () => suite("memory"));

describe.skipIf(!REDIS_URL)("on Redis counts", () => suite("redis"));

describe.skipIf(!REDIS_URL)("Redis counts are shared, and an unreachable Redis falls back to memory", () => {
  const rules = {
    login_account: { points: 3, seconds: 60 },
    login_address: { points: 3, seconds: 60 },
    room_action: { points: 3, seconds: 60 },
    webhook: { points: 3, seconds: 60 },
  };
  const log = pino({ level: "silent" });

  it("two processes' limiters on one Redis share one count", async () => {
    const keyPrefix = `rl-test-${key()}`;
    const a = await RateLimits.create({ rules, log, redisUrl: childRedis(0).REDIS_URL, keyPrefix });
    const b = await RateLimits.create({ rules, log, redisUrl: childRedis(0).REDIS_URL, keyPrefix });
    try {
      expect(await a.take(LimitName.webhook, "ch")).toEqual({ ok: true });
      expect(await b.take(LimitName.webhook, "ch")).toEqual({ ok: true });
      expect(await a.take(LimitName.webhook, "ch")).toEqual({ ok: true });
      const refused = await b.take(LimitName.webhook, "ch");
      expect(refused.ok).toBe(false);
      // Another limit, same key: its own count.
      expect(await b.take(LimitName.roomAction, "ch")).toEqual({ ok: true });
      // A refused take counts too (4 of 3): two given back, one more is allowed.
      await a.give(LimitName.webhook, "ch", 2);
      expect(await b.take(LimitName.webhook, "ch")).toEqual({ ok: true });
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it("Redis not reachable: no wait, the limits still hold with this process's counts", async () => {
    const limits = await RateLimits.create({ rules, log, redisUrl: "redis://127.0.0.1:1", keyPrefix: `rl-test-${key()}` });
    try {
      const verdicts = [];
      for (let i = 0; i < 4; i++) verdicts.push((await limits.take(LimitName.loginAccount, "x@test.test")).ok);
      expect(verdicts).toEqual([true, true, true, false]);
    } finally {
      await limits.stop();
    }
  });
});

describe("the settings", () => {
  it("limits are `<count>/<seconds>s`; a bad one stops the start naming the variable; defaults apply when unset", () => {
    const c = parseConfig({});
    expect(c.rateLimits).toEqual({
      loginAccount: { points: 10, seconds: 900 },
      loginAddress: { points: 50, seconds: 900 },
      roomActions: { points: 300, seconds: 10 },
      webhooks: { points: 10_000, seconds: 10 },
    });
    expect(c.metricsToken).toBeUndefined();
    expect(c.trustedProxies).toBe(0);
    expect(parseConfig({ RATE_LIMIT_ROOM_ACTIONS: "20/1s" }).rateLimits.roomActions).toEqual({ points: 20, seconds: 1 });
    for (const [name, value] of [
      ["RATE_LIMIT_LOGIN_ACCOUNT", "10"],
      ["RATE_LIMIT_LOGIN_ADDRESS", "0/10s"],
      ["RATE_LIMIT_ROOM_ACTIONS", "10/0s"],
      ["RATE_LIMIT_WEBHOOKS", "ten/10s"],
      ["RATE_LIMIT_WEBHOOKS", "-1/10s"],
      ["METRICS_TOKEN", "short"],
      ["METRICS_TOKEN", "has a space in it, long enough"],
      ["TRUSTED_PROXIES", "-1"],
    ]) {
      expect(() => parseConfig({ [name!]: value }), `${name}=${value}`).toThrow(ConfigError);
      expect(() => parseConfig({ [name!]: value })).toThrow(name);
    }
  });
});
