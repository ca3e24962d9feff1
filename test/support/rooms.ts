import type { Room } from "@colyseus/sdk";
import { eq } from "drizzle-orm";
import * as s from "../../db/schema.ts";
import { type DemoKey, EMAIL, ID } from "./demo.ts";
import { type App, type Conn, type Result, login, open, sdk, track, waitFor } from "./server.ts";

/** Room connections as tests use them: tokens, conversation and inbox rooms, queries. */

/** Tokens by server: a token is good only on the server (database) that issued it. */
const tokensByApp = new WeakMap<App, Map<string, string>>();

/** An access token of a demo member (logged in once per server) or of any member by id (signed). */
export async function tokenOf(app: App, who: DemoKey | string): Promise<string> {
  let tokens = tokensByApp.get(app);
  if (!tokens) {
    tokens = new Map();
    tokensByApp.set(app, tokens);
  }
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
  track(conn);
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
  track(inbox);
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

/** A `log` or `history` query on an open connection. */
export async function query(conn: Conn, type: "log" | "history", payload: { limit?: number; beforeSeq?: number } = {}): Promise<Result> {
  return conn.act(type, payload);
}

export async function logTexts(conn: Conn, limit = 100): Promise<string[]> {
  const r = await query(conn, "log", { limit });
  if (!r.ok) throw new Error(`log refused: ${r.code}`);
  return (r.events as { text: string }[]).map((e) => e.text);
}

