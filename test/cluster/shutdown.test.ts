import { rmSync } from "node:fs";
import { Client, type Room } from "@colyseus/sdk";
import { afterAll, describe, expect, it } from "vitest";
import { CloseCode } from "../../rooms/closeCodes.ts";
import { killAllChildren, startChildServer, stopChild } from "../support/child.ts";
import { dropDatabase, freshDatabaseUrl, freshPgliteDir, storageKinds } from "../support/db.ts";

/**
 * Graceful shutdown of a real server process (server/main.ts on SIGTERM, docs/protocol.md §2.8):
 * the actions already queued are answered and committed, every connection closes with 4106
 * (`server_restarting`), and the process exits 0. No Redis: one process.
 */
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  await killAllChildren();
  for (const f of cleanups) await f();
});

async function signIn(url: string, email: string): Promise<string> {
  const res = await fetch(`${url}/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password: "demo-password" }),
  });
  return ((await res.json()) as { accessToken: string }).accessToken;
}

async function join(url: string, token: string, name: string, options: Record<string, unknown>): Promise<Room> {
  const client = new Client(url.replace("http", "ws"));
  client.auth.token = token;
  return client.joinOrCreate(name, options);
}

describe.each(storageKinds())("SIGTERM on %s", (kind) => {
  it("in-flight actions are answered and committed, clients are closed with 4106, the process exits 0", { timeout: 180_000 }, async () => {
    let env: Record<string, string>;
    if (kind === "postgres") {
      const databaseUrl = (await freshDatabaseUrl())!;
      cleanups.push(() => dropDatabase(databaseUrl));
      env = { REDIS_URL: "", DATABASE_URL: databaseUrl, DATA_DIR: "unused" };
    } else {
      const dir = await freshPgliteDir("inbox-sigterm-");
      cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
      env = { REDIS_URL: "", DATABASE_URL: "", DATA_DIR: dir };
    }
    let server = await startChildServer(env);
    const token = await signIn(server.url, "agent@demo.test");
    const room = await join(server.url, token, "conversation", { conversationId: "demo-collab", view: "mine" });
    const inbox = await join(server.url, token, "inbox", { memberId: "demo-agent" });
    inbox.onMessage("*", () => {}); // list deltas and notices: not this test's concern
    const closes: Record<string, number> = {};
    room.onLeave((code) => {
      closes.conversation = code;
    });
    inbox.onLeave((code) => {
      closes.inbox = code;
    });
    const answers = new Map<string, { ok: boolean; code?: string }>();
    room.onMessage("result", (r: { requestId: string; ok: boolean; code?: string }) => answers.set(r.requestId, r));

    // Twenty replies queued at once; SIGTERM as soon as the first is answered, the rest in flight.
    const ids = Array.from({ length: 20 }, (_, i) => `term-${i}`);
    const first = new Promise<void>((resolve) => room.onMessage("result", () => resolve()));
    for (const [i, id] of ids.entries()) room.send("reply", { requestId: id, text: `before the stop ${i}` });
    await first;
    const exitCode = await stopChild(server.child, "SIGTERM");

    expect(exitCode).toBe(0);
    // The close frames were sent before the exit; the client may read them a moment after it.
    for (const deadline = Date.now() + 10_000; (!closes.conversation || !closes.inbox) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
    expect(closes.conversation).toBe(CloseCode.restarting);
    expect(closes.inbox).toBe(CloseCode.restarting);
    for (const r of answers.values()) expect(r.ok, `answered ${r.code}`).toBe(true);
    expect(answers.size).toBeGreaterThanOrEqual(1);

    // Started again on the same data: exactly the answered replies are stored (the others were
    // not read, and a client resends them after rejoining).
    server = await startChildServer(env);
    const again = await join(server.url, await signIn(server.url, "agent@demo.test"), "conversation", { conversationId: "demo-collab", view: "mine" });
    const history = await new Promise<{ messages: { body: string }[] }>((resolve) => {
      again.onMessage("result", (r: { requestId: string; messages: { body: string }[] }) => {
        if (r.requestId === "h") resolve(r);
      });
      again.send("history", { requestId: "h", limit: 100 });
    });
    const stored = history.messages.map((m) => m.body).filter((b) => b.startsWith("before the stop "));
    const answered = ids.filter((id) => answers.has(id)).map((id) => `before the stop ${id.slice(5)}`);
    expect(stored.sort()).toEqual(answered.sort());
    await again.leave();
    expect(await stopChild(server.child, "SIGTERM")).toBe(0);
  });
});
