import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket as WsWebSocket } from "ws";
import type { ActionAnswer, ConversationView, HistoryMessage } from "../../client/index.ts";
import { ID } from "../support/demo.ts";
import { createConversation } from "../support/fixtures.ts";
import { useTestServer, waitFor } from "../support/server.ts";
import { TcpProxy } from "../support/tcp-proxy.ts";
import { signedIn, tracked } from "./support.ts";

/**
 * Reconnection (docs/protocol.md §2.8): a client whose socket is cut in the middle of a burst of
 * replies ends with the same timeline as one that never dropped — no gap, no duplicate — and its
 * own requests sent while away are applied once.
 */
const app = useTestServer();

/**
 * @colyseus/core checks a reconnected socket against the global `WebSocket.OPEN`, which Node has
 * from version 22 (package.json's engines, the Dockerfile's image). On an older Node the check
 * throws and every SDK reconnection is refused with 4003 — the client then rejoins (the second
 * test). Give this process the global it would have on Node 22.
 */
if (typeof (globalThis as { WebSocket?: unknown }).WebSocket === "undefined") {
  (globalThis as { WebSocket?: unknown }).WebSocket = WsWebSocket;
}
let proxy: TcpProxy;
beforeAll(async () => {
  proxy = new TcpProxy("127.0.0.1", app.port);
  await proxy.start();
});
afterAll(async () => {
  await proxy.stop();
});

const accepted = (a: ActionAnswer) => {
  if (!a.ok) throw new Error(`refused: ${a.code} ${a.message}`);
  return a;
};

/** Every message of the conversation, read with `catch_up` from the start. */
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

const pairs = (xs: readonly { seq: number; text: string }[]) => xs.map((m) => `${m.seq}:${m.text}`);

/**
 * Opens the conversation twice: `writer` directly, `dropped` through the proxy. Sends `total`
 * replies from the writer; cuts the proxy after `cutAt` answers and lets it pass again after
 * `passAt`; meanwhile `dropped` sends replies of its own. Returns both views.
 */
async function burstAcrossACut(opts: { waitBeforeMs: number; total: number; cutAt: number; passAt: number }) {
  const c = await createConversation(app, { follower: ID.agent, collaborators: [ID.agent2], texts: ["start"] });
  const writer = tracked(await (await signedIn(app, "agent2")).openConversation(c.id));
  const dropped = tracked(await (await signedIn(app, "agent", `http://127.0.0.1:${proxy.port}`)).openConversation(c.id));
  const events: string[] = [];
  dropped.on("drop", (code) => events.push(`drop ${code}`));
  dropped.on("reconnected", (how) => events.push(how));
  dropped.on("closed", (code) => events.push(`closed ${code}`));
  if (opts.waitBeforeMs) await new Promise((r) => setTimeout(r, opts.waitBeforeMs));

  let answered = 0;
  const writing = (async () => {
    for (let i = 1; i <= opts.total; i++) {
      accepted(await writer.reply(`w-${i}`));
      answered++;
      if (answered === opts.cutAt) proxy.cut();
      if (answered === opts.passAt) proxy.pass();
    }
  })();
  await waitFor(() => answered >= opts.cutAt, 60_000);
  const own = [1, 2, 3, 4, 5].map((i) => dropped.reply(`d-${i}`, `own-${c.id}-${i}`));
  await writing;
  const ownAnswers = await Promise.all(own);
  return { writer, dropped, events, ownAnswers };
}

async function expectSameTimeline(writer: ConversationView, dropped: ConversationView, total: number) {
  const reference = await allMessages(writer);
  const last = reference.at(-1)!.seq;
  await waitFor(
    () => dropped.syncedThrough >= last && writer.syncedThrough >= last && dropped.timeline().length >= reference.length,
    30_000,
  );
  expect(pairs(dropped.timeline())).toEqual(pairs(reference));
  expect(pairs(writer.timeline())).toEqual(pairs(reference));
  const texts = reference.map((m) => m.text);
  for (let i = 1; i <= total; i++) expect(texts.filter((t) => t === `w-${i}`)).toHaveLength(1);
  for (let i = 1; i <= 5; i++) expect(texts.filter((t) => t === `d-${i}`)).toHaveLength(1);
}

describe("reconnect without gap or duplicate (docs/protocol.md §2.8)", () => {
  it("the SDK reconnects to the same seat after a cut longer than the state's 50 messages: the timeline catches up", {
    timeout: 120_000,
  }, async () => {
    // The SDK only reconnects rooms that have been open 5 s (its minUptime).
    const { writer, dropped, events, ownAnswers } = await burstAcrossACut({ waitBeforeMs: 5_500, total: 90, cutAt: 10, passAt: 75 });
    expect(ownAnswers.every((a) => a.ok)).toBe(true);
    expect(events[0]).toMatch(/^drop /);
    await waitFor(() => events.includes("reconnect"), 30_000);
    expect(events.filter((e) => !e.startsWith("drop "))).toEqual(["reconnect"]);
    await expectSameTimeline(writer, dropped, 90);
  });

  it("a view lost before the SDK would reconnect rejoins, catches up from its last seq and resends what was not answered", {
    timeout: 120_000,
  }, async () => {
    const { writer, dropped, events, ownAnswers } = await burstAcrossACut({ waitBeforeMs: 0, total: 80, cutAt: 5, passAt: 70 });
    expect(ownAnswers.every((a) => a.ok)).toBe(true);
    await waitFor(() => events.includes("rejoin"), 30_000);
    expect(events.filter((e) => !e.startsWith("drop "))).toEqual(["rejoin"]);
    await expectSameTimeline(writer, dropped, 80);
  });
});
