import { createHash, createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as s from "../../db/schema.ts";
import { type App, startApp } from "../../server/app.ts";
import { createAccount, loadAccount, loadActiveAccount } from "../../server/channels/accounts.ts";
import { decryptSecrets, encryptSecrets, resolveSecretsKey, secretsKeyOf } from "../../server/channels/secrets.ts";
import { ConfigError, parseConfig } from "../../server/config.ts";
import { otherWorkspaceConversation } from "../http/fixtures.ts";
import { dropDatabase, freshDatabaseUrl, freshPgliteDir } from "../support/db.ts";
import { EMAIL, login } from "../support/server.ts";

/**
 * Channel accounts (`/api/v2/channels`, issue 9 item 1): admin only, credentials validated per
 * type, write-only (never in an answer, never in a log line), encrypted at rest; another
 * workspace's account is unknown; a disabled account's webhooks answer 404.
 */

const logLines: string[] = [];
let app: App;
let databaseUrl: string | undefined;
let dataDir: string;
let admin: string;

beforeAll(async () => {
  databaseUrl = await freshDatabaseUrl();
  dataDir = databaseUrl ? "memory://" : await freshPgliteDir();
  const config = parseConfig({
    PORT: "0",
    HOST: "127.0.0.1",
    DATA_DIR: dataDir,
    SEED_DEMO: "true",
    JWT_SECRET: "test-secret-test-secret-test-secret-42",
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  });
  // Every log line the server writes, at the most verbose level: none may carry a secret.
  const log = pino({ level: "trace" }, { write: (line: string) => void logLines.push(line) });
  app = await startApp(config, { log });
  admin = await login(app, EMAIL.admin);
});
afterAll(async () => {
  await app?.stop();
  await dropDatabase(databaseUrl);
  if (dataDir && dataDir !== "memory://") rmSync(dataDir, { recursive: true, force: true });
});

async function call(token: string, path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const res = await app.http.request(path, {
    method: init.method ?? "GET",
    headers: {
      authorization: `Bearer ${token}`,
      ...(init.body !== undefined ? { "content-type": "application/json" } : {}),
      ...init.headers,
    },
    body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, text, body: text ? JSON.parse(text) : null };
}

/** A unique, recognizable secret value: found in an answer or a log line only if it leaked. */
const secret = (name: string) => `${name}-${randomBytes(12).toString("hex")}`;

function validBody(type: string) {
  switch (type) {
    case "line":
      return { type, name: "LINE OA", credentials: { channelSecret: secret("ls"), channelAccessToken: secret("lt") } };
    case "messenger":
    case "instagram":
      return {
        type,
        name: type,
        settings: { pageId: "1234567890" },
        credentials: { appSecret: secret("as"), pageAccessToken: secret("pt"), verifyToken: secret("vt") },
      };
    case "whatsapp":
      return {
        type,
        name: "WA",
        settings: { phoneNumberId: "10987654321" },
        credentials: { appSecret: secret("as"), accessToken: secret("at"), verifyToken: secret("vt") },
      };
    case "wechat":
      return {
        type,
        name: "WeChat OA",
        credentials: {
          appId: "wx0123456789",
          appSecret: secret("ws"),
          token: secret("wt"),
          encodingAESKey: randomBytes(32)
            .toString("base64")
            .replace(/[^A-Za-z0-9]/g, "a")
            .slice(0, 43),
        },
      };
    case "webchat":
      return { type, name: "Site", credentials: { secret: secret("wc") } };
    default:
      throw new Error(type);
  }
}

async function channelCount(): Promise<number> {
  return (await app.database.db.select({ id: s.channels.id }).from(s.channels)).length;
}

describe("channel accounts API", () => {
  it("is admin only: every other role gets 403 ROLE_NOT_ALLOWED and nothing is stored", async () => {
    const before = await channelCount();
    for (const who of [EMAIL.supervisor, EMAIL.manager, EMAIL.agent, EMAIL.marketing]) {
      const token = await login(app, who);
      const listed = await call(token, "/api/v2/channels");
      expect([listed.status, listed.body.code]).toEqual([403, "ROLE_NOT_ALLOWED"]);
      const created = await call(token, "/api/v2/channels", { method: "POST", body: validBody("line") });
      expect([created.status, created.body.code]).toEqual([403, "ROLE_NOT_ALLOWED"]);
      const disabled = await call(token, "/api/v2/channels/demo-webchat/disable", { method: "POST" });
      expect([disabled.status, disabled.body.code]).toEqual([403, "ROLE_NOT_ALLOWED"]);
    }
    expect(await channelCount()).toBe(before);
    const anonymous = await app.http.request("/api/v2/channels");
    expect(anonymous.status).toBe(401);
  });

  it("creates each type; secrets are never in an answer or a log line; the webhook URL is the provider's route", async () => {
    const secrets: string[] = [];
    for (const type of ["line", "messenger", "instagram", "whatsapp", "wechat", "webchat"]) {
      const body = validBody(type);
      const values = Object.values(body.credentials).filter((v) => v !== "wx0123456789");
      secrets.push(...values);
      const created = await call(admin, "/api/v2/channels", { method: "POST", body });
      expect(created.status, created.text).toBe(201);
      expect(created.body).toMatchObject({
        type,
        name: body.name,
        status: "active",
        hasCredentials: true,
        credentialKeys: Object.keys(body.credentials).sort(),
      });
      const path = type === "webchat" ? `/channels/webchat/${created.body.id}/messages` : `/webhooks/${type}/${created.body.id}`;
      expect(created.body.webhookUrl).toBe(`${app.url}${path}`);
      if ("settings" in body) expect(created.body.settings).toEqual(body.settings);
      const got = await call(admin, `/api/v2/channels/${created.body.id}`);
      expect(got.status).toBe(200);
      expect(got.body).toEqual(created.body);
      for (const v of values) {
        expect(created.text).not.toContain(v);
        expect(got.text).not.toContain(v);
      }
    }
    const listed = await call(admin, "/api/v2/channels");
    expect(listed.status).toBe(200);
    expect(listed.body.items.length).toBeGreaterThanOrEqual(7); // the demo Webchat channel and these six
    for (const v of secrets) expect(listed.text).not.toContain(v);
    // A refused update names the fields, never echoes values.
    const line = listed.body.items.find((c: { type: string }) => c.type === "line");
    const leaky = secret("leak");
    const refused = await call(admin, `/api/v2/channels/${line.id}`, { method: "PATCH", body: { credentials: { channelSecret: leaky } } });
    expect([refused.status, refused.body.code]).toEqual([400, "INVALID_PAYLOAD"]);
    expect(refused.text).not.toContain(leaky);
    secrets.push(leaky);
    expect(logLines.length).toBeGreaterThan(0); // the capture works: the server did log (its start)
    const logged = logLines.join("\n");
    for (const v of secrets) expect(logged).not.toContain(v);
  });

  it("validates credentials and settings per type (400 INVALID_PAYLOAD naming the field); nothing is stored", async () => {
    const before = await channelCount();
    const cases: [unknown, string][] = [
      [{ type: "line", name: "x", credentials: { channelSecret: "s" } }, "credentials.channelAccessToken"],
      [{ type: "line", name: "x", credentials: { appSecret: "a", pageAccessToken: "p", verifyToken: "v" } }, "credentials"],
      [{ type: "messenger", name: "x", credentials: { appSecret: "a", pageAccessToken: "p", verifyToken: "v" } }, "settings"],
      [
        { type: "whatsapp", name: "x", settings: { pageId: "1" }, credentials: { appSecret: "a", accessToken: "t", verifyToken: "v" } },
        "settings",
      ],
      [{ type: "wechat", name: "x", credentials: { appId: "a", appSecret: "s" } }, "credentials.token"],
      [
        { type: "wechat", name: "x", credentials: { appId: "a", appSecret: "s", token: "t", encodingAESKey: "too-short" } },
        "credentials.encodingAESKey",
      ],
      [{ type: "webchat", name: "x", credentials: { secret: "short" } }, "credentials.secret"],
      [{ type: "telegram", name: "x", credentials: {} }, "type"],
      [{ type: "line", name: "", credentials: { channelSecret: "s", channelAccessToken: "t" } }, "name"],
    ];
    for (const [body, field] of cases) {
      const r = await call(admin, "/api/v2/channels", { method: "POST", body });
      expect([r.status, r.body.code], JSON.stringify(body)).toEqual([400, "INVALID_PAYLOAD"]);
      expect(JSON.stringify(r.body.detail?.issues ?? [])).toContain(field);
    }
    expect(await channelCount()).toBe(before);
  });

  it("stores credentials encrypted (AES-256-GCM): the row holds no plaintext, decrypts back, and a changed byte fails", async () => {
    const body = validBody("line") as { credentials: { channelSecret: string; channelAccessToken: string } };
    const created = await call(admin, "/api/v2/channels", { method: "POST", body });
    expect(created.status).toBe(201);
    const [row] = await app.database.db.select().from(s.channels).where(eq(s.channels.id, created.body.id));
    expect(row?.secretsEnc).toBeTruthy();
    for (const v of Object.values(body.credentials)) {
      expect(row!.secretsEnc).not.toContain(v);
      expect(row!.secretsEnc).not.toContain(Buffer.from(v).toString("base64").slice(0, 16));
    }
    const key = secretsKeyOf(app.database.db);
    expect(decryptSecrets(key, row!.secretsEnc!)).toEqual(body.credentials);
    // Two encryptions of the same value differ (a random IV each).
    expect(encryptSecrets(key, body.credentials)).not.toBe(encryptSecrets(key, body.credentials));
    const parts = row!.secretsEnc!.split(".");
    const data = Buffer.from(parts[3]!, "base64url");
    data[0] = data[0]! ^ 1;
    expect(() => decryptSecrets(key, [...parts.slice(0, 3), data.toString("base64url")].join("."))).toThrow();
    expect(() => decryptSecrets(randomBytes(32), row!.secretsEnc!)).toThrow();

    const account = await loadAccount(app.database.db, created.body.id, "line");
    expect(account).toMatchObject({ id: created.body.id, type: "line", status: "active", secrets: body.credentials });
    expect(await loadAccount(app.database.db, created.body.id, "messenger")).toBeNull();
    expect(await loadAccount(app.database.db, "no-such-channel")).toBeNull();

    // Webchat keeps only the SHA-256 of its secret.
    const wc = validBody("webchat") as { credentials: { secret: string } };
    const webchat = await call(admin, "/api/v2/channels", { method: "POST", body: wc });
    const [wcRow] = await app.database.db.select().from(s.channels).where(eq(s.channels.id, webchat.body.id));
    expect(wcRow).toMatchObject({ secretsEnc: null, secretHash: createHash("sha256").update(wc.credentials.secret).digest("hex") });
  });

  it("updates: name, settings and credentials replaced whole, validated for the account's type", async () => {
    const created = await call(admin, "/api/v2/channels", { method: "POST", body: validBody("messenger") });
    const id = created.body.id as string;
    const partial = await call(admin, `/api/v2/channels/${id}`, { method: "PATCH", body: { credentials: { appSecret: "only-one" } } });
    expect([partial.status, partial.body.code]).toEqual([400, "INVALID_PAYLOAD"]);
    const wrongSettings = await call(admin, `/api/v2/channels/${id}`, { method: "PATCH", body: { settings: { phoneNumberId: "1" } } });
    expect([wrongSettings.status, wrongSettings.body.code]).toEqual([400, "INVALID_PAYLOAD"]);
    const fresh = { appSecret: secret("as2"), pageAccessToken: secret("pt2"), verifyToken: secret("vt2") };
    const changed = await call(admin, `/api/v2/channels/${id}`, {
      method: "PATCH",
      body: { name: "Renamed", settings: { pageId: "42" }, credentials: fresh },
    });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({
      name: "Renamed",
      settings: { pageId: "42" },
      credentialKeys: ["appSecret", "pageAccessToken", "verifyToken"],
    });
    for (const v of Object.values(fresh)) expect(changed.text).not.toContain(v);
    expect((await loadAccount(app.database.db, id))?.secrets).toEqual(fresh);
    const unknownField = await call(admin, `/api/v2/channels/${id}`, { method: "PATCH", body: { type: "line" } });
    expect([unknownField.status, unknownField.body.code]).toEqual([400, "INVALID_PAYLOAD"]);
  });

  it("another workspace's channel account is 404 on every route, and stays unchanged", async () => {
    const other = await otherWorkspaceConversation(app);
    const svc = { db: app.database.db, now: () => new Date(), publicUrl: () => app.url };
    const theirs = await createAccount(svc, other.workspaceId, validBody("line"));
    for (const [method, path, body] of [
      ["GET", `/api/v2/channels/${theirs.id}`, undefined],
      ["PATCH", `/api/v2/channels/${theirs.id}`, { name: "Mine now" }],
      ["POST", `/api/v2/channels/${theirs.id}/disable`, undefined],
      ["POST", `/api/v2/channels/${theirs.id}/enable`, undefined],
    ] as const) {
      const r = await call(admin, path, { method, body });
      expect([r.status, r.body.code], `${method} ${path}`).toEqual([404, "NOT_FOUND"]);
    }
    const listed = await call(admin, "/api/v2/channels");
    expect(listed.body.items.map((c: { id: string }) => c.id)).not.toContain(theirs.id);
    expect(await loadAccount(app.database.db, theirs.id)).toMatchObject({ status: "active", workspaceId: other.workspaceId });
    const [row] = await app.database.db.select({ name: s.channels.name }).from(s.channels).where(eq(s.channels.id, theirs.id));
    expect(row?.name).toBe("LINE OA");
  });

  it("a disabled account's webhooks answer 404 and store nothing; enabled again, they are accepted", async () => {
    const wcBody = validBody("webchat") as { credentials: { secret: string } };
    const wc = (await call(admin, "/api/v2/channels", { method: "POST", body: wcBody })).body;
    const lineBody = validBody("line") as { credentials: { channelSecret: string } };
    const line = (await call(admin, "/api/v2/channels", { method: "POST", body: lineBody })).body;
    const postWebchat = (messageId: string) =>
      app.http.request(`/channels/webchat/${wc.id}/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-channel-secret": wcBody.credentials.secret },
        body: JSON.stringify({ messageId, customer: { id: "visitor-disable", name: "Visitor" }, text: "hello" }),
      });
    const lineEvent = (id: string) =>
      JSON.stringify({
        destination: "U0",
        events: [
          {
            type: "message",
            mode: "active",
            timestamp: Date.now(),
            webhookEventId: id,
            deliveryContext: { isRedelivery: false },
            source: { type: "user", userId: "Udisabled" },
            replyToken: "r",
            message: { id: `m-${id}`, type: "text", quoteToken: "q", text: "hi" },
          },
        ],
      });
    const postLine = (id: string) => {
      const raw = lineEvent(id);
      return app.http.request(`/webhooks/line/${line.id}`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-line-signature": createHmac("sha256", lineBody.credentials.channelSecret).update(raw).digest("base64"),
        },
        body: raw,
      });
    };
    const events = async () => (await app.database.db.select({ id: s.inboundEvents.id }).from(s.inboundEvents)).length;

    expect((await postWebchat("before-disable")).status).toBe(202);
    const disabled = await call(admin, `/api/v2/channels/${wc.id}/disable`, { method: "POST" });
    expect(disabled.body.status).toBe("disabled");
    expect((await call(admin, `/api/v2/channels/${line.id}/disable`, { method: "POST" })).body.status).toBe("disabled");
    expect(await loadActiveAccount(app.database.db, line.id)).toBeNull();
    expect(await loadAccount(app.database.db, line.id)).toMatchObject({ status: "disabled" });

    const stored = await events();
    const refused = await postWebchat("while-disabled");
    expect(refused.status).toBe(404);
    expect(((await refused.json()) as { code: string }).code).toBe("NOT_FOUND");
    expect((await postLine("ev-while-disabled")).status).toBe(404);
    expect(await events()).toBe(stored);

    expect((await call(admin, `/api/v2/channels/${wc.id}/enable`, { method: "POST" })).body.status).toBe("active");
    expect((await call(admin, `/api/v2/channels/${line.id}/enable`, { method: "POST" })).body.status).toBe("active");
    expect((await postWebchat("after-enable")).status).toBe(202);
    expect((await postLine("ev-after-enable")).status).toBe(200);
    expect(await events()).toBe(stored + 2);
  });
});

describe("channel configuration", () => {
  it("CHANNEL_SECRETS_KEY is required in production and must be 32 bytes; PUBLIC_URL loses its trailing slash", () => {
    const jwt = "a-production-secret-a-production-secret";
    expect(() => parseConfig({ NODE_ENV: "production", JWT_SECRET: jwt })).toThrow("CHANNEL_SECRETS_KEY");
    expect(() => parseConfig({ CHANNEL_SECRETS_KEY: Buffer.alloc(16).toString("base64") })).toThrow(ConfigError);
    const key = randomBytes(32);
    const c = parseConfig({
      NODE_ENV: "production",
      JWT_SECRET: jwt,
      CHANNEL_SECRETS_KEY: key.toString("base64"),
      PUBLIC_URL: "https://inbox.example.com/",
    });
    expect(c.channelSecretsKey?.equals(key)).toBe(true);
    expect(c.publicUrl).toBe("https://inbox.example.com");
    expect(() => parseConfig({ PUBLIC_URL: "ftp://x" })).toThrow("PUBLIC_URL");
  });

  it("the key: configured wins; embedded, generated once and kept in DATA_DIR (never silently replaced); PostgreSQL in development, derived from JWT_SECRET", () => {
    const log = pino({ level: "silent" });
    const dir = mkdtempSync(join(tmpdir(), "channel-key-"));
    try {
      const embedded = { channelSecretsKey: undefined, databaseUrl: undefined, dataDir: dir, jwtSecret: undefined };
      const first = resolveSecretsKey(embedded, log);
      expect(first).toHaveLength(32);
      expect(resolveSecretsKey(embedded, log).equals(first)).toBe(true);
      expect(Buffer.from(readFileSync(join(dir, "channel-secrets-key"), "utf8"), "base64").equals(first)).toBe(true);
      writeFileSync(join(dir, "channel-secrets-key"), "not a key");
      expect(() => resolveSecretsKey(embedded, log)).toThrow("channel-secrets-key");
      const configured = randomBytes(32);
      expect(resolveSecretsKey({ ...embedded, channelSecretsKey: configured }, log).equals(configured)).toBe(true);
      const pg = { channelSecretsKey: undefined, databaseUrl: "postgres://x/y", dataDir: "memory://", jwtSecret: "j".repeat(40) };
      expect(resolveSecretsKey(pg, log).equals(resolveSecretsKey(pg, log))).toBe(true);
      expect(resolveSecretsKey(pg, log).equals(resolveSecretsKey({ ...pg, jwtSecret: "k".repeat(40) }, log))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
