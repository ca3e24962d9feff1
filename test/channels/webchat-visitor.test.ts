import { Client, type Room } from "@colyseus/sdk";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { VisitorTokens } from "../../server/channels/webchat/visitors.ts";
import { channelRows } from "../support/channelRows.ts";
import { WEBCHAT } from "../support/demo.ts";
import { connect } from "../support/rooms.ts";
import { EMAIL, login, sdk, useTestServer, waitFor } from "../support/server.ts";
import { deliveryRow, setChannelStatus } from "./delivery-support.ts";

/**
 * The Webchat visitor side (issue 9, item 6): a visitor token from the widget endpoint, the
 * visitor's `webchat` room (history on join, `say`, staff replies live), and the widget page.
 */

const app = useTestServer();
const JWT_SECRET = "test-secret-test-secret-test-secret-42"; // test/support/server.ts

interface VisitorJson {
  visitorId: string;
  token: string;
  expiresIn: number;
  name: string;
  room: string;
}

interface VisitorMessage {
  conversationId: string;
  seq: number;
  from: "customer" | "staff";
  text: string;
  at: string;
}

async function newVisitor(body?: unknown, headers: Record<string, string> = {}, channelId: string = WEBCHAT.channelId) {
  const res = await app.http.request(`/channels/webchat/${encodeURIComponent(channelId)}/visitors`, {
    method: "POST",
    headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as any };
}

async function visitor(name?: string): Promise<VisitorJson> {
  const r = await newVisitor(name ? { name } : {});
  expect(r.status).toBe(201);
  return r.body as VisitorJson;
}

/** A visitor's widget: the `webchat` room, what it was sent, and `say` with its answer. */
class Widget {
  history: VisitorMessage[] | null = null;
  readonly live: VisitorMessage[] = [];
  readonly results: any[] = [];
  left = false;
  private n = 0;

  constructor(readonly room: Room) {
    room.onMessage("history", (h: { messages: VisitorMessage[] }) => {
      this.history = h.messages;
    });
    room.onMessage("message", (m: VisitorMessage) => this.live.push(m));
    room.onMessage("result", (r: any) => this.results.push(r));
    room.onLeave(() => {
      this.left = true;
    });
  }

  static async open(v: { visitorId: string; token: string }, locale?: string): Promise<Widget> {
    const client = new Client(`ws://127.0.0.1:${app.port}`);
    client.auth.token = v.token;
    const w = new Widget(await client.joinOrCreate("webchat", { visitorId: v.visitorId, ...(locale ? { locale } : {}) }));
    opened.push(w);
    await waitFor(() => w.history !== null);
    return w;
  }

  async send(type: string, payload: unknown): Promise<any> {
    const before = this.results.length;
    this.room.send(type, payload);
    await waitFor(() => this.results.length > before);
    return this.results[before];
  }

  say(text: string, requestId = `w${++this.n}-${Math.random().toString(36).slice(2)}`): Promise<any> {
    return this.send("say", { requestId, text });
  }

  /** Every message seen, history and live, once per conversation and seq (as the widget page shows them). */
  get seen(): VisitorMessage[] {
    const byKey = new Map<string, VisitorMessage>();
    for (const m of [...(this.history ?? []), ...this.live]) byKey.set(`${m.conversationId}:${m.seq}`, m);
    return [...byKey.values()].sort((a, b) => a.seq - b.seq);
  }
}
const opened: Widget[] = [];

async function closeWidgets() {
  await Promise.all(opened.splice(0).map((w) => (w.left ? undefined : w.room.leave().catch(() => {}))));
}

async function customerMessagesOf(visitorId: string) {
  return (await channelRows(app).customerMessages("webchat", visitorId)).messages;
}

async function joinRefusal(join: () => Promise<unknown>): Promise<string> {
  try {
    await join();
  } catch (e) {
    return String((e as Error).message);
  }
  throw new Error("the join was accepted");
}

describe("Webchat visitors (issue 9, item 6)", () => {
  it("the whole loop: a visitor writes from the widget, the message lands in a new pending conversation, a staff reply reaches the widget live and ends `sent`, and a reopened widget shows both", async () => {
    const v = await visitor("Ming 小明");
    expect(v).toMatchObject({ room: "webchat", name: "Ming 小明" });
    expect(v.expiresIn).toBe(30 * 86_400);
    const widget = await Widget.open(v);
    expect(widget.history).toEqual([]);

    const said = await widget.say("  Hello, is anyone there? 👋  ");
    expect(said).toMatchObject({ ok: true, duplicate: false });
    const conversationId = said.conversationId as string;
    const rows = channelRows(app);
    const customer = await rows.customerOf("webchat", v.visitorId);
    expect(customer?.displayName).toBe("Ming 小明");
    const [conversation] = await rows.conversationsOf([customer!.id]);
    expect(conversation).toMatchObject({ id: conversationId, status: "pending", channelId: WEBCHAT.channelId });
    expect((await customerMessagesOf(v.visitorId)).map((m) => m.body)).toEqual(["Hello, is anyone there? 👋"]);
    await waitFor(() => widget.live.length === 1);
    expect(widget.live[0]).toMatchObject({ conversationId, seq: said.seq, from: "customer", text: "Hello, is anyone there? 👋" });

    const staff = await connect(app, "admin", conversationId, "team");
    await waitFor(() => staff.state.messages.some((m: { body: string }) => m.body === "Hello, is anyone there? 👋"));
    const reply = await staff.act("reply", { text: "Hi! How can we help? 您好" });
    expect(reply.ok).toBe(true);
    await waitFor(() => widget.live.some((m) => m.from === "staff"));
    expect(widget.live.find((m) => m.from === "staff")).toMatchObject({
      conversationId,
      seq: reply.seq,
      text: "Hi! How can we help? 您好",
    });
    await waitFor(() => staff.state.messages.find((m: { seq: number }) => m.seq === reply.seq)?.delivery === "sent");
    expect(await deliveryRow(app, conversationId, reply.seq as number)).toMatchObject({ status: "sent", code: null });

    await widget.room.leave();
    const again = await Widget.open(v);
    expect(again.history?.map((m) => [m.from, m.text])).toEqual([
      ["customer", "Hello, is anyone there? 👋"],
      ["staff", "Hi! How can we help? 您好"],
    ]);
    // System lines of the status log never reach the visitor.
    expect(again.history?.every((m) => m.from === "customer" || m.from === "staff")).toBe(true);
    await closeWidgets();
  });

  it("two open widgets of one visitor share one room: both see each message once; a repeated request id stores one message and answers `duplicate`", async () => {
    const v = await visitor();
    expect(v.name).toMatch(/^Visitor .{4}$/);
    const a = await Widget.open(v);
    const b = await Widget.open(v);
    const first = await a.say("one", "same-id");
    const second = await b.say("one", "same-id");
    expect(first).toMatchObject({ ok: true, duplicate: false });
    expect(second).toMatchObject({ ok: true, duplicate: true, conversationId: first.conversationId });
    await b.say("two");
    await waitFor(() => a.seen.length === 2 && b.seen.length === 2);
    expect(a.seen.map((m) => m.text)).toEqual(["one", "two"]);
    expect(b.seen.map((m) => m.text)).toEqual(["one", "two"]);
    expect((await customerMessagesOf(v.visitorId)).map((m) => m.body)).toEqual(["one", "two"]);
    // Two visitors using the same request id are two messages (ids are scoped by visitor).
    const other = await visitor();
    const w = await Widget.open(other);
    expect(await w.say("one", "same-id")).toMatchObject({ ok: true, duplicate: false });
    expect(await customerMessagesOf(other.visitorId)).toHaveLength(1);
    await closeWidgets();
  });

  it("tokens: a staff token does not open a visitor's room, a visitor token opens no staff room nor API, nor another visitor's room; forged and expired tokens are refused", async () => {
    const v = await visitor();
    const other = await visitor();
    const staffToken = await login(app, EMAIL.admin);
    const staffClient = sdk(app, staffToken);
    expect(await joinRefusal(() => staffClient.joinOrCreate("webchat", { visitorId: v.visitorId }))).toContain("UNAUTHENTICATED");

    const asVisitor = new Client(`ws://127.0.0.1:${app.port}`);
    asVisitor.auth.token = v.token;
    expect(await joinRefusal(() => asVisitor.joinOrCreate("conversation", { conversationId: "demo-pending" }))).toContain(
      "UNAUTHENTICATED",
    );
    expect(await joinRefusal(() => asVisitor.joinOrCreate("inbox", {}))).toMatch(/UNAUTHENTICATED|INVALID_PAYLOAD/);
    expect((await app.http.request("/api/v2/me", { headers: { authorization: `Bearer ${v.token}` } })).status).toBe(401);
    expect(await joinRefusal(() => asVisitor.joinOrCreate("webchat", { visitorId: other.visitorId }))).toContain("VIEW_NOT_ALLOWED");

    const forged = await new VisitorTokens("another-secret-another-secret-another", 3600).sign({
      visitorId: v.visitorId,
      channelId: WEBCHAT.channelId,
      workspaceId: "demo",
      name: "x",
    });
    const forgedClient = new Client(`ws://127.0.0.1:${app.port}`);
    forgedClient.auth.token = forged;
    expect(await joinRefusal(() => forgedClient.joinOrCreate("webchat", { visitorId: v.visitorId }))).toContain("UNAUTHENTICATED");

    const expired = await new VisitorTokens(JWT_SECRET, -60).sign({
      visitorId: v.visitorId,
      channelId: WEBCHAT.channelId,
      workspaceId: "demo",
      name: "x",
    });
    const expiredClient = new Client(`ws://127.0.0.1:${app.port}`);
    expiredClient.auth.token = expired;
    expect(await joinRefusal(() => expiredClient.joinOrCreate("webchat", { visitorId: v.visitorId }))).toContain("TOKEN_EXPIRED");
    // The same key, a valid token: accepted (so the refusals above are about the tokens).
    const valid = await new VisitorTokens(JWT_SECRET, 60).sign({
      visitorId: v.visitorId,
      channelId: WEBCHAT.channelId,
      workspaceId: "demo",
      name: "x",
    });
    await Widget.open({ visitorId: v.visitorId, token: valid });
    await closeWidgets();
  });

  it("bad input to `say` is answered once with its code and stores nothing; an unknown message type is UNKNOWN_ACTION (property over NUL, 4-byte characters, huge and wrong-typed values)", async () => {
    const v = await visitor();
    const w = await Widget.open(v, "en");
    expect(await w.send("shout", { requestId: "x1" })).toMatchObject({ requestId: "x1", ok: false, code: "UNKNOWN_ACTION" });
    expect(await w.say("   ")).toMatchObject({ ok: false, code: "INVALID_PAYLOAD" });
    expect(await w.say(`a${String.fromCharCode(0)}b`)).toMatchObject({ ok: false, code: "INVALID_PAYLOAD" });
    // A lone surrogate cannot cross the wire (MessagePack strings are UTF-8): it arrives as U+FFFD, a valid text.
    expect(await w.say("\uD800 lone")).toMatchObject({ ok: true });
    expect(await w.say("字".repeat(4001))).toMatchObject({ ok: false, code: "TEXT_TOO_LONG" });
    expect(await w.say("𝒳".repeat(4000))).toMatchObject({ ok: true }); // 4,000 code points of 4 bytes: accepted
    let stored = 2;
    const wire = (x: string) => x.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD");

    const text = fc.oneof(
      fc.string({ unit: "grapheme", maxLength: 50 }),
      fc.string({ unit: "binary", maxLength: 20 }),
      fc.constant(String.fromCharCode(0)),
      fc.constant("x".repeat(4001)),
      fc.integer(),
      fc.constant(null),
      fc.array(fc.string(), { maxLength: 3 }),
      fc.object({ maxDepth: 2 }),
    );
    const payload = fc.oneof(
      fc.record(
        { requestId: fc.oneof(fc.string({ minLength: 1, maxLength: 20 }), fc.integer(), fc.constant("r".repeat(101))), text },
        { requiredKeys: [] },
      ),
      fc.anything({ maxDepth: 2 }),
    );
    let n = 0;
    await fc.assert(
      fc.asyncProperty(payload, async (p) => {
        // A unique request id per run where the payload has a string one, so a valid text is a new message.
        const withId =
          p && typeof p === "object" && !Array.isArray(p) && typeof (p as any).requestId === "string" && (p as any).requestId.length <= 100
            ? { ...(p as object), requestId: `p${++n}-${(p as any).requestId}` }
            : p;
        const answer = await w.send("say", withId);
        const sentId =
          withId && typeof withId === "object" && !Array.isArray(withId) && typeof (withId as any).requestId === "string"
            ? (withId as any).requestId
            : null;
        const requestId = sentId === null ? null : wire(sentId);
        expect(answer.requestId).toBe(requestId);
        const raw = (withId as any)?.text;
        const t = typeof raw === "string" ? wire(raw) : raw;
        const valid =
          typeof requestId === "string" &&
          requestId.length <= 100 &&
          typeof t === "string" &&
          t.trim().length > 0 &&
          [...t.trim()].length <= 4000 &&
          !t.includes(String.fromCharCode(0)) &&
          !requestId.includes(String.fromCharCode(0));
        expect([answer.ok, answer.code]).toEqual(valid ? [true, undefined] : [false, expect.any(String)]);
        if (valid) stored++;
      }),
      { numRuns: 60, seed: 42 },
    );
    expect(await customerMessagesOf(v.visitorId)).toHaveLength(stored);
    await closeWidgets();
  });

  it("a disabled channel issues no visitor tokens (404) and refuses a visitor's message (NOT_FOUND, nothing stored); enabled again, it works", async () => {
    const v = await visitor();
    const w = await Widget.open(v);
    await setChannelStatus(app, WEBCHAT.channelId, "disabled");
    try {
      expect((await newVisitor({})).status).toBe(404);
      expect(await w.say("while disabled")).toMatchObject({ ok: false, code: "NOT_FOUND" });
      expect(await customerMessagesOf(v.visitorId)).toHaveLength(0);
    } finally {
      await setChannelStatus(app, WEBCHAT.channelId, "active");
    }
    expect(await w.say("enabled again")).toMatchObject({ ok: true });
    expect((await newVisitor({ name: "x" }, {}, "no-such-channel")).status).toBe(404);
    await closeWidgets();
  });

  it("visitor creation: bad bodies are 400 INVALID_PAYLOAD; `allowedOrigins` limits which pages may get a token", async () => {
    expect((await newVisitor("{not json")).body.code).toBe("INVALID_PAYLOAD");
    expect((await newVisitor({ name: "" })).status).toBe(400);
    expect((await newVisitor({ name: "x".repeat(81) })).status).toBe(400);
    expect((await newVisitor({ name: 42 })).status).toBe(400);
    expect((await newVisitor({ name: `a${String.fromCharCode(0)}` })).status).toBe(400);
    expect((await newVisitor(undefined)).status).toBe(201);

    const admin = await login(app, EMAIL.admin);
    const patch = (settings: unknown) =>
      app.http.request(`/api/v2/channels/${WEBCHAT.channelId}`, {
        method: "PATCH",
        headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
        body: JSON.stringify({ settings }),
      });
    expect((await patch({ allowedOrigins: ["https://shop.example/path"] })).status).toBe(400);
    expect((await patch({ allowedOrigins: ["https://shop.example"] })).status).toBe(200);
    try {
      expect((await newVisitor({})).status).toBe(403);
      expect((await newVisitor({}, { origin: "https://evil.example" })).status).toBe(403);
      expect((await newVisitor({}, { origin: "https://shop.example" })).status).toBe(201);
      expect((await newVisitor({}, { origin: new URL(app.url).origin })).status).toBe(201); // the server's own /widget page
      const framed = await app.http.request(`/widget?channel=${WEBCHAT.channelId}`);
      expect(framed.headers.get("content-security-policy")).toBe("frame-ancestors 'self' https://shop.example");
    } finally {
      expect((await patch({})).status).toBe(200);
    }
    expect((await newVisitor({})).status).toBe(201);
    expect((await app.http.request(`/widget?channel=${WEBCHAT.channelId}`)).headers.get("content-security-policy")).toBeNull();
  });

  it("the widget page and the SDK bundle it loads are served", async () => {
    const page = await app.http.request("/widget?channel=demo-webchat");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    const html = await page.text();
    expect(html).toContain('<script src="/widget/colyseus.js"></script>');
    expect(html).toContain('joinOrCreate("webchat"');
    const js = await app.http.request("/widget/colyseus.js");
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toContain("javascript");
    expect(await js.text()).toContain("Colyseus");
  });
});
