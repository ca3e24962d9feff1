import { describe, expect, it } from "vitest";
import { httpAppOf } from "../support/httpApp.ts";
import { Metrics } from "../../server/metrics.ts";
import { SenderRegistry } from "../../server/channels/senders.ts";
import { ID, WEBCHAT } from "../support/demo.ts";
import { createConversation } from "../support/fixtures.ts";
import { webchat } from "../support/http.ts";
import { connect } from "../support/rooms.ts";
import { useTestServer } from "../support/server.ts";
import { type Sample, has, parseMetrics, sampleSum } from "./metrics-text.ts";

/** `GET /metrics`: its token, and what real actions, webhooks and sends make it show (server/metrics.ts). */

const TOKEN = "metrics-token-for-tests-0123456789";
const app = useTestServer({ env: { METRICS_TOKEN: TOKEN } });

async function scrape(): Promise<Sample[]> {
  const res = await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
  return parseMetrics(await res.text());
}

const ROOM = "inbox_room_request_duration_seconds_count";

describe("the token", () => {
  it("no token, a wrong one, another scheme: 401 UNAUTHENTICATED with the request id; the right one: 200", async () => {
    for (const authorization of [undefined, "Bearer wrong-token-wrong-token-wrong", `Basic ${TOKEN}`, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`]) {
      const res = await fetch(`${app.url}/metrics`, { headers: authorization ? { authorization } : {} });
      expect(res.status, String(authorization)).toBe(401);
      const body = (await res.json()) as { code: string; requestId: string };
      expect(body.code).toBe("UNAUTHENTICATED");
      expect(body.requestId).toBe(res.headers.get("x-request-id"));
    }
    expect((await scrape()).length).toBeGreaterThan(10);
  });

  it("without METRICS_TOKEN the route is not exposed: 404 NOT_FOUND, whatever token is sent", async () => {
    const http = httpAppOf(app);
    for (const headers of [{}, { authorization: `Bearer ${TOKEN}` }] as Record<string, string>[]) {
      const res = await http.request("/metrics", { headers });
      expect(res.status).toBe(404);
      expect(((await res.json()) as { code: string }).code).toBe("NOT_FOUND");
    }
  });
});

describe("what it shows", () => {
  it("room actions: the histogram of an action's type and outcome grows by one per answer; a refusal is labelled with its code; rooms and clients are counted", async () => {
    const c = await createConversation(app, { follower: ID.agent, channel: "webchat" });
    const dan = await connect(app, "agent", c.id);
    const before = await scrape();
    expect(sampleSum(before, "inbox_rooms", { type: "conversation" })).toBeGreaterThanOrEqual(1);
    expect(sampleSum(before, "inbox_room_clients", { type: "conversation" })).toBeGreaterThanOrEqual(1);

    expect(await dan.act("reply", { text: "hello from the metrics test" })).toMatchObject({ ok: true });
    expect(await dan.act("mark_read")).toMatchObject({ ok: true });
    const refused = await dan.act("reopen");
    expect(refused.ok).toBe(false);
    const bad = await dan.act("reply", { text: "" });
    expect(bad).toMatchObject({ ok: false, code: "INVALID_PAYLOAD" });

    const after = await scrape();
    const grew = (labels: Record<string, string>) => sampleSum(after, ROOM, labels) - sampleSum(before, ROOM, labels);
    expect(grew({ action: "reply", outcome: "ok", origin: "client" })).toBe(1);
    expect(grew({ action: "mark_read", outcome: "ok", origin: "client" })).toBe(1);
    expect(grew({ action: "reopen", outcome: refused.code!, origin: "client" })).toBe(1);
    expect(grew({ action: "reply", outcome: "INVALID_PAYLOAD", origin: "client" })).toBe(1);
    // A type no client may invent a label for.
    const unknownBefore = sampleSum(after, ROOM, { action: "unknown" });
    expect(await dan.act("no-such-action-🦄")).toMatchObject({ ok: false, code: "UNKNOWN_ACTION" });
    const last = await scrape();
    expect(sampleSum(last, ROOM, { action: "unknown", outcome: "UNKNOWN_ACTION" }) - unknownBefore).toBe(1);
    expect(last.some((s) => s.name === ROOM && s.labels.action?.includes("🦄"))).toBe(false);

    // The staff reply went out through the Webchat sender: counted by provider and result.
    let sends = 0;
    for (let i = 0; i < 100 && sends < 1; i++) {
      sends = sampleSum(await scrape(), "inbox_delivery_sends_total", { provider: "webchat", result: "ok" }) - sampleSum(before, "inbox_delivery_sends_total", { provider: "webchat", result: "ok" });
      if (sends < 1) await new Promise((r) => setTimeout(r, 100));
    }
    expect(sends).toBe(1);
  });

  it("webhook intake by provider: stored, duplicate (a re-delivery), refused (a wrong secret, a bad body)", async () => {
    const before = await scrape();
    const msg = { messageId: `m-${Date.now()}`, customer: { id: `visitor-${Date.now()}`, name: "Visitor" }, text: "hello" };
    expect((await webchat(app, msg)).status).toBe(202);
    expect((await webchat(app, msg)).status).toBe(202);
    expect((await webchat(app, msg, "not-the-secret")).status).toBe(401);
    const res = await fetch(`${app.url}/channels/webchat/${WEBCHAT.channelId}/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-channel-secret": WEBCHAT.secret },
      body: JSON.stringify({ messageId: "x" }),
    });
    expect(res.status).toBe(400);
    // A LINE webhook for a channel that does not exist.
    expect((await fetch(`${app.url}/webhooks/line/no-such-channel`, { method: "POST", body: "{}" })).status).toBe(404);

    const after = await scrape();
    const grew = (labels: Record<string, string>) =>
      sampleSum(after, "inbox_webhook_events_total", labels) - sampleSum(before, "inbox_webhook_events_total", labels);
    expect(grew({ provider: "webchat", outcome: "stored" })).toBe(1);
    expect(grew({ provider: "webchat", outcome: "duplicate" })).toBe(1);
    expect(grew({ provider: "webchat", outcome: "refused" })).toBe(2);
    expect(grew({ provider: "line", outcome: "refused" })).toBe(1);
  });

  it("outbox, jobs, event loop, HTTP requests and the database are there, read at the scrape", async () => {
    const s = await scrape();
    for (const name of [
      "inbox_outbox_depth",
      "inbox_outbox_lag_seconds",
      "inbox_jobs_running",
      "inbox_job_items_processed",
      "inbox_job_items_total",
      "nodejs_eventloop_lag_seconds",
      "nodejs_eventloop_lag_p99_seconds",
      "inbox_http_request_duration_seconds_count",
      "process_resident_memory_bytes",
    ]) {
      expect(has(s, name), name).toBe(true);
    }
    expect(sampleSum(s, "inbox_storage_scrape_ok")).toBe(1);
    expect(sampleSum(s, "inbox_rooms_scrape_ok")).toBe(1);
    expect(sampleSum(s, "inbox_database_info", { kind: app.database.kind })).toBe(1);
    expect(sampleSum(s, "inbox_outbox_lag_seconds")).toBeGreaterThanOrEqual(0);
    // The earlier scrapes were HTTP requests too.
    expect(sampleSum(s, "inbox_http_request_duration_seconds_count", { method: "GET", status: "200" })).toBeGreaterThanOrEqual(1);
  });

  it("a registry per server: a second Metrics in the same process starts from zero and does not clash", async () => {
    const other = new Metrics({ db: app.database.db, now: () => new Date(), log: app.log, databaseKind: app.database.kind });
    const registry = other.meterSenders(new SenderRegistry({ line: { send: async () => ({ ok: false, transient: true, code: "LINE_RATE_LIMITED", reason: "429" }) } }));
    await registry.get("line")!.send({} as never, {} as never);
    const mine = parseMetrics(await other.render());
    expect(sampleSum(mine, "inbox_delivery_sends_total", { provider: "line", result: "LINE_RATE_LIMITED" })).toBe(1);
    expect(sampleSum(mine, ROOM)).toBe(0);
    expect(sampleSum(await scrape(), "inbox_delivery_sends_total", { provider: "line", result: "LINE_RATE_LIMITED" })).toBe(0);
  });
});
