import { randomUUID } from "node:crypto";
import type { Room } from "@colyseus/sdk";
import { and, asc, eq } from "drizzle-orm";
import { expect } from "vitest";
import * as s from "../../db/schema.ts";
import type { Channel, Locale, Role, Status } from "../../domain/sets.ts";
import { type App, Conn, EMAIL, ID, type Result, login, open, sdk, waitFor } from "../support/server.ts";

/** The demo workspace (server/seed.ts) and its members' display names. */
export const WORKSPACE = "demo";
export const NAME = {
  admin: "Jess",
  supervisor: "Amy",
  manager: "Ben",
  marketing: "Cathy",
  agent: "Dan",
  agent2: "Eve",
  agent3: "Finn",
} as const;
export type DemoKey = keyof typeof ID;

export const WEBCHAT = { channelId: "demo-webchat", secret: "demo-webchat-secret" } as const;

// ---- connections ------------------------------------------------------------------------------

/** Every SDK connection a test opens, so `closeAll()` (in `afterEach`) leaves them all. */
const opened: { leave(): Promise<unknown> }[] = [];

export async function closeAll(): Promise<void> {
  const all = opened.splice(0);
  await Promise.all(all.map((c) => c.leave().catch(() => {})));
}

const tokens = new Map<string, string>();

/** An access token of a demo member (logged in once per file) or of any member by id (signed). */
export async function tokenOf(app: App, who: DemoKey | string): Promise<string> {
  const cached = tokens.get(who);
  if (cached) return cached;
  let token: string;
  if (who in EMAIL) {
    token = await login(app, EMAIL[who as DemoKey]);
  } else {
    const m = (await app.database.db.select().from(s.members).where(eq(s.members.id, who)))[0];
    if (!m) throw new Error(`no member ${who}`);
    token = await app.auth.signAccess(m);
  }
  tokens.set(who, token);
  return token;
}

/** Opens a conversation as a demo member (key) or any member (id); closed by `closeAll()`. */
export async function connect(app: App, who: DemoKey | string, conversationId: string, view: "mine" | "team" = "mine"): Promise<Conn> {
  const conn = await open(app, await tokenOf(app, who), conversationId, view);
  opened.push(conn);
  return conn;
}

export interface Notice {
  id: number;
  kind: string;
  conversationId: string | null;
  actorId: string | null;
  text: string;
  readAt: string | null;
}

/** A member's inbox room connection, collecting the `notice` messages it receives. */
export class Inbox {
  readonly notices: Notice[] = [];
  closed: number | null = null;

  constructor(readonly room: Room) {
    room.onMessage("notice", (n: Notice) => this.notices.push(n));
    // Live list deltas (docs/protocol.md §8) are tested in test/live; here they are only received.
    room.onMessage("list", () => {});
    room.onMessage("list_reset", () => {});
    room.onLeave((code: number) => {
      this.closed = code;
    });
  }

  /** Waits for a notice about one conversation (other tests' notices are ignored). */
  async next(conversationId: string, kind?: string): Promise<Notice> {
    const find = () => this.notices.find((n) => n.conversationId === conversationId && (!kind || n.kind === kind));
    await waitFor(() => find() !== undefined);
    return find()!;
  }

  about(conversationId: string): Notice[] {
    return this.notices.filter((n) => n.conversationId === conversationId);
  }

  async leave(): Promise<void> {
    if (this.closed === null) await this.room.leave().catch(() => {});
  }
}

export async function openInbox(app: App, who: DemoKey | string): Promise<Inbox> {
  const memberId = who in ID ? ID[who as DemoKey] : who;
  const room = await sdk(app, await tokenOf(app, who)).joinOrCreate("inbox", { memberId });
  const inbox = new Inbox(room);
  opened.push(inbox);
  await waitFor(() => (room.state as { memberId?: string })?.memberId === memberId);
  return inbox;
}

/** The next answer with no request id (a payload the server could not read one from). */
export async function nextAnonymousResult(conn: Conn, send: () => void): Promise<Result> {
  const before = conn.results.length;
  send();
  await waitFor(() => conn.results.slice(before).some((r) => r.requestId === null));
  return conn.results.slice(before).find((r) => r.requestId === null)!;
}

// ---- database fixtures ----------------------------------------------------------------------

export interface ConversationSpec {
  follower?: string | null;
  collaborators?: string[];
  status?: Status;
  kind?: "direct" | "group";
  channel?: Channel;
  customerName?: string;
  /** Customer messages already in the timeline. */
  texts?: string[];
  /** Stored unread counts by member id. */
  unread?: Record<string, number>;
  /** Members who pinned the conversation. */
  pinned?: string[];
}

export interface Fixture {
  id: string;
  customerId: string;
  customerName: string;
  /** The customer's id on the channel (Webchat's `customer.id`). */
  channelUserId: string;
}

/** A fresh conversation of its own customer, written straight to the database (row shapes of seed.ts). */
export async function createConversation(app: App, spec: ConversationSpec = {}): Promise<Fixture> {
  const db = app.database.db;
  const key = randomUUID().slice(0, 8);
  const id = `t-${key}`;
  const channel = spec.channel ?? "line";
  const customerId = `cust-${key}`;
  const customerName = spec.customerName ?? `客人${key}`;
  const channelUserId = `user-${key}`;
  const texts = spec.texts ?? ["你好"];
  const follower = spec.follower === undefined ? ID.admin : spec.follower;
  const collaborators = spec.collaborators ?? [];
  const status: Status = spec.status ?? (follower ? "in_progress" : "pending");
  const now = Date.now();
  await db.insert(s.customers).values({ id: customerId, workspaceId: WORKSPACE, displayName: customerName, channel, channelUserId });
  await db.insert(s.conversations).values({
    id,
    workspaceId: WORKSPACE,
    customerId,
    channelId: channel === "webchat" ? WEBCHAT.channelId : null,
    channel,
    kind: spec.kind ?? "direct",
    status,
    followerId: follower,
    collaboratorIds: collaborators,
    lastSeq: texts.length,
    lastMessageAt: new Date(now),
    lastMessagePreview: texts.at(-1) ?? null,
    lastCustomerMessageAt: texts.length ? new Date(now) : null,
    waitingSince: status === "closed" || !texts.length ? null : new Date(now),
    closedAt: status === "closed" ? new Date(now) : null,
  });
  if (texts.length) {
    await db.insert(s.messages).values(
      texts.map((body, i) => ({
        conversationId: id,
        seq: i + 1,
        sender: "customer" as const,
        senderId: customerId,
        body,
        requestId: `fixture-${id}-${i}`,
        createdAt: new Date(now - (texts.length - i) * 1000),
      })),
    );
  }
  const stateIds = new Set([...Object.keys(spec.unread ?? {}), ...(spec.pinned ?? [])]);
  if (stateIds.size) {
    await db.insert(s.memberConversationState).values(
      [...stateIds].map((memberId) => ({
        memberId,
        conversationId: id,
        unreadCount: spec.unread?.[memberId] ?? 0,
        pinned: spec.pinned?.includes(memberId) ?? false,
        pinnedAt: spec.pinned?.includes(memberId) ? new Date(now) : null,
      })),
    );
  }
  return { id, customerId, customerName, channelUserId };
}

/** An extra active member of the demo workspace (no password: use `tokenOf(app, id)`). */
export async function createMember(
  app: App,
  spec: { name?: string; role?: Role; locale?: Locale } = {},
): Promise<{ id: string; name: string }> {
  const key = randomUUID().slice(0, 8);
  const id = `m-${key}`;
  const name = spec.name ?? `Member ${key}`;
  await app.database.db.insert(s.members).values({
    id,
    workspaceId: WORKSPACE,
    name,
    email: `${id}@test.test`,
    role: spec.role ?? "agent",
    locale: spec.locale ?? "zh-TW",
    passwordHash: "not-a-login",
  });
  return { id, name };
}

export async function conversationRow(app: App, id: string) {
  return (await app.database.db.select().from(s.conversations).where(eq(s.conversations.id, id)))[0]!;
}

export async function eventRows(app: App, id: string) {
  return app.database.db
    .select()
    .from(s.conversationEvents)
    .where(eq(s.conversationEvents.conversationId, id))
    .orderBy(asc(s.conversationEvents.seq));
}

export async function messageRows(app: App, id: string) {
  return app.database.db.select().from(s.messages).where(eq(s.messages.conversationId, id)).orderBy(asc(s.messages.seq));
}

export async function memberState(app: App, conversationId: string, memberId: string) {
  const rows = await app.database.db
    .select()
    .from(s.memberConversationState)
    .where(and(eq(s.memberConversationState.conversationId, conversationId), eq(s.memberConversationState.memberId, memberId)));
  return rows[0] ?? { unreadCount: 0, pinned: false, lastReadSeq: 0 };
}

/** Unread counts by member id, as stored. */
export async function unreadOf(app: App, conversationId: string, memberIds: readonly string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const id of memberIds) out[id] = (await memberState(app, conversationId, id)).unreadCount;
  return out;
}

/** A `log` or `history` query on an open connection. */
export async function query(conn: Conn, type: "log" | "history", payload: { limit?: number; beforeSeq?: number } = {}): Promise<Result> {
  return conn.act(type, payload);
}

export async function logTexts(conn: Conn, limit = 100): Promise<string[]> {
  const r = await query(conn, "log", { limit });
  if (!r.ok) throw new Error(`log refused: ${r.code}`);
  return (r.events as { text: string }[]).map((e) => e.text);
}

/** Authenticated HTTP call to the API. */
export async function api(app: App, token: string, path: string, init: { method?: string; body?: unknown } = {}) {
  const res = await fetch(`${app.url}${path}`, {
    method: init.method ?? "GET",
    headers: { authorization: `Bearer ${token}`, ...(init.body ? { "content-type": "application/json" } : {}) },
    body: init.body ? JSON.stringify(init.body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as any };
}

/** A job as `GET /api/v2/jobs/{id}` answers it. */
export interface JobItemJson {
  conversationId: string;
  outcome: string | null;
  code?: string;
  message?: string;
}
export interface JobJson {
  id: string;
  kind: string;
  status: string;
  total: number;
  processed: number;
  createdAt: string;
  finishedAt: string | null;
  items: JobItemJson[];
}

/** Polls `GET /api/v2/jobs/{id}` (as the token's member) until the job is no longer running. */
export async function finishedJob(app: App, token: string, jobId: string): Promise<JobJson> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await api(app, token, `/api/v2/jobs/${jobId}`);
    expect(r.status).toBe(200);
    if (r.body.job.status !== "running") return r.body.job as JobJson;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still running`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Posts a customer message through the Webchat channel endpoint. */
export async function webchat(
  app: App,
  body: { messageId: string; customer: { id: string; name: string }; text: string },
  secret: string = WEBCHAT.secret,
) {
  const res = await fetch(`${app.url}/channels/webchat/${WEBCHAT.channelId}/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-channel-secret": secret },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

export { Conn, ID, waitFor };
