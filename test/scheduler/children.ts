import { Client, type Room, type SeatReservation } from "@colyseus/sdk";
import { and, eq } from "drizzle-orm";
import type { Database } from "../../db/client.ts";
import * as s from "../../db/schema.ts";
import type { ChildServer } from "../support/child.ts";
import { Conn, waitFor } from "../support/server.ts";

/**
 * Helpers for tests with the server in child processes (server/main.ts): sign in over HTTP, open a
 * conversation with the SDK through a given process, change workspace settings, wait on the
 * database. Each keeps its state per test file (the `ChildClients` instance).
 */
export class ChildClients {
  private readonly tokens = new Map<string, Promise<string>>();
  readonly rooms: Room[] = [];

  /** One sign-in per member and process (failed sign-ins are rate limited per account). */
  signIn(server: ChildServer, email: string): Promise<string> {
    const key = `${server.url} ${email}`;
    let token = this.tokens.get(key);
    if (!token) {
      token = (async () => {
        const res = await fetch(`${server.url}/auth/login`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ email, password: "demo-password" }),
        });
        if (res.status !== 200) throw new Error(`sign-in ${email}: ${res.status}`);
        return ((await res.json()) as { accessToken: string }).accessToken;
      })();
      this.tokens.set(key, token);
    }
    return token;
  }

  /** Opens the conversation as an SDK client of `server` (the SDK goes on to the process holding the room). */
  async open(server: ChildServer, email: string, conversationId: string): Promise<Conn> {
    const token = await this.signIn(server, email);
    const res = await fetch(`${server.url}/matchmake/joinOrCreate/conversation`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ conversationId, view: "mine" }),
    });
    if (res.status !== 200) throw new Error(`matchmake ${res.status}: ${await res.text()}`);
    const seat = (await res.json()) as SeatReservation;
    const client = new Client(server.url.replace(/^http/, "ws"));
    client.auth.token = token;
    const room = await client.consumeSeatReservation(seat);
    this.rooms.push(room);
    const conn = new Conn(room);
    await waitFor(() => conn.state?.id === conversationId, 15_000);
    return conn;
  }

  /** PATCH /api/v2/workspace/settings as the admin. */
  async settings(server: ChildServer, adminEmail: string, patch: Record<string, unknown>): Promise<void> {
    const res = await fetch(`${server.url}/api/v2/workspace/settings`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${await this.signIn(server, adminEmail)}`, "content-type": "application/json" },
      body: JSON.stringify(patch),
    });
    if (res.status !== 200) throw new Error(`settings ${res.status}: ${await res.text()}`);
  }

  /** Leaves every room (a room of a killed process never answers: each gets a moment). */
  async leaveAll(): Promise<void> {
    await Promise.all(this.rooms.map((r) => Promise.race([r.leave().catch(() => {}), new Promise((ok) => setTimeout(ok, 1000))])));
  }
}

/** Polls an async check until it holds. */
export async function until(check: () => Promise<boolean>, ms = 60_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** What auto-close left in the database for one conversation: status, reminders sent, close log lines, timers. */
export async function autoCloseTrace(database: Database, conversationId: string) {
  const db = database.db;
  const [conv] = await db.select({ status: s.conversations.status }).from(s.conversations).where(eq(s.conversations.id, conversationId));
  const reminders = await db
    .select({ seq: s.messages.seq })
    .from(s.messages)
    .where(
      and(eq(s.messages.conversationId, conversationId), eq(s.messages.sender, "auto"), eq(s.messages.senderId, "auto_close_reminder")),
    );
  const closes = await db
    .select({ kind: s.conversationEvents.kind })
    .from(s.conversationEvents)
    .where(and(eq(s.conversationEvents.conversationId, conversationId), eq(s.conversationEvents.kind, "auto_closed")));
  const timers = await db.select({ kind: s.timers.kind }).from(s.timers).where(eq(s.timers.conversationId, conversationId));
  return { status: conv?.status, reminders: reminders.length, closes: closes.length, timers: timers.length };
}
