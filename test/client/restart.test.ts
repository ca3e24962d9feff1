import { rmSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { type ActionAnswer, CloseCode, type ConversationView, type HistoryMessage, InboxClient } from "../../client/index.ts";
import { type ChildServer, killAllChildren, startChildServer, stopChild } from "../support/child.ts";
import { dropDatabase, freshDatabaseUrl, freshPgliteDir } from "../support/db.ts";
import { EMAIL } from "../support/demo.ts";
import { waitFor } from "../support/server.ts";
import { TcpProxy } from "../support/tcp-proxy.ts";

/**
 * A server restart (docs/protocol.md §2.6 4106, §2.8): the typed client rejoins the new process,
 * catches up from its last seq and resends what was not answered — each applied once.
 * The child servers run on in-process presence (`REDIS_URL: ""`): no Redis database is allotted
 * to this file. (Never change `process.env` here: test files share their worker, `isolate: false`.)
 */

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  await killAllChildren();
  for (const c of cleanups.reverse()) await c();
});

const accepted = (a: ActionAnswer) => {
  if (!a.ok) throw new Error(`refused: ${a.code} ${a.message}`);
  return a;
};

async function allMessages(view: ConversationView): Promise<HistoryMessage[]> {
  const out: HistoryMessage[] = [];
  let after = 0;
  for (;;) {
    const a = await view.catchUp(after, 200);
    if (!a.ok) throw new Error(a.code);
    out.push(...a.messages);
    if (!a.more) return out;
    after = a.throughSeq;
  }
}

describe("server restart (docs/protocol.md §2.8)", () => {
  it("closed with 4106, the views rejoin the restarted server, catch up, and requests sent meanwhile apply once", {
    timeout: 240_000,
  }, async () => {
    const databaseUrl = await freshDatabaseUrl();
    const dataDir = databaseUrl ? "memory://" : await freshPgliteDir();
    cleanups.push(() => dropDatabase(databaseUrl));
    if (!databaseUrl) cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const env = { DATA_DIR: dataDir, REDIS_URL: "", ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) };
    let server: ChildServer = await startChildServer(env);
    const proxy = new TcpProxy("127.0.0.1", Number(new URL(server.url).port));
    await proxy.start();
    cleanups.push(() => proxy.stop());
    const url = `http://127.0.0.1:${proxy.port}`;

    const sign = async (email: string) => {
      const client = new InboxClient({ url, rejoinForMs: 180_000 });
      await client.login(email, "demo-password");
      return client;
    };
    // demo-collab: Dan (agent) follows, Ben (cs_manager) collaborates.
    const dropped = await (await sign(EMAIL.agent)).openConversation("demo-collab");
    const writer = await (await sign(EMAIL.manager)).openConversation("demo-collab");
    const events: string[] = [];
    dropped.on("drop", (code) => events.push(`drop ${code}`));
    dropped.on("reconnected", (how) => events.push(how));
    dropped.on("closed", (code) => events.push(`closed ${code}`));
    const lost: number[] = [];
    dropped.sdkRoom.onLeave((code: number) => lost.push(code));

    for (let i = 1; i <= 20; i++) accepted(await writer.reply(`before-${i}`));
    await stopChild(server.child);
    await waitFor(() => lost.length > 0, 30_000);
    expect(lost[0]).toBe(CloseCode.restarting);
    // Sent while no server runs: answered after the rejoin.
    const own = [1, 2, 3].map((i) => dropped.reply(`own-${i}`));
    server = await startChildServer(env);
    (proxy as unknown as { targetPort: number }).targetPort = Number(new URL(server.url).port);
    for (let i = 1; i <= 20; i++) accepted(await writer.reply(`after-${i}`));
    expect((await Promise.all(own)).every((a) => a.ok)).toBe(true);
    await waitFor(() => events.includes("rejoin"), 60_000);

    const reference = await allMessages(writer);
    const last = reference.at(-1)!.seq;
    await waitFor(() => dropped.syncedThrough >= last && dropped.timeline().length >= reference.length, 30_000);
    const pairs = (xs: readonly { seq: number; text: string }[]) => xs.map((m) => `${m.seq}:${m.text}`);
    expect(pairs(dropped.timeline())).toEqual(pairs(reference));
    const texts = reference.map((m) => m.text);
    for (const t of ["before-1", "before-20", "after-1", "after-20", "own-1", "own-2", "own-3"])
      expect(texts.filter((x) => x === t)).toHaveLength(1);
    expect(events.filter((e) => e.startsWith("closed"))).toEqual([]);
    await dropped.leave();
    await writer.leave();
  });
});
