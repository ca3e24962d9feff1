import type { Room } from "@colyseus/sdk";
import { createClient } from "redis";
import { ID } from "../../test/support/demo.ts";
import { DEMO, REDIS_BASE, type Row, firstState, int, log, pct, sdkClient, seedConversations, sleep, startServers } from "./common.ts";
import { quiet } from "./watch.ts";

/**
 * P7: a notice to a member connected to another process. Two server processes share PostgreSQL
 * and Redis (database REDIS_DB, flushed). The member (Finn, agent) has their inbox room open
 * through process A; the follower (Dan) acts through process B, adding Finn to a conversation and
 * removing him again, one action at a time, NOTICES times (each gives Finn one notice: R2.7, R3.5).
 * The figure: how much later than the actor's own answer (`result`, sent by the conversation's
 * room right after the commit) the notice reaches Finn (queued after the same commit, sent
 * through Redis to his inbox room), p99.
 *
 * Baseline, same run: raw Redis pub/sub on the same Redis, one message at a time from one
 * connection to another, publish → receipt, p99. Target: ours ≤ baseline + 5 ms.
 */
const NOTICES = int("BENCH_P7_NOTICES", 400);
const REDIS_DB = int("BENCH_REDIS_DB", 1, 0);

export const command = `npm run bench:p7  (BENCH_P7_NOTICES=${NOTICES}, Redis database ${REDIS_DB})`;

async function roomProcess(redisUrl: string, roomId: string): Promise<string> {
  const r = createClient({ url: redisUrl });
  await r.connect();
  try {
    const raw = await r.hGet("roomcaches", roomId);
    return raw ? String((JSON.parse(raw) as { processId?: string }).processId) : "?";
  } finally {
    await r.quit();
  }
}

export async function run(): Promise<Row[]> {
  const cluster = await startServers({ processes: 2, redisDb: REDIS_DB });
  const rooms: Room[] = [];
  const url = new URL(REDIS_BASE);
  url.pathname = `/${REDIS_DB}`;
  const redisUrl = url.toString();
  try {
    const [a, b] = cluster.servers as [(typeof cluster.servers)[0], (typeof cluster.servers)[0]];
    const [conversationId] = await seedConversations(cluster.sql, {
      prefix: "p7",
      count: 1,
      channel: "webchat",
      channelId: "demo-webchat",
      status: "in_progress",
      followerId: DEMO.follower.id,
      collaboratorIds: [],
    });
    const finn = { id: ID.agent3, role: "agent" };
    const inbox = await (await sdkClient(a.url, finn)).joinOrCreate("inbox", { memberId: finn.id });
    rooms.push(inbox);
    quiet(inbox, ["list", "list_reset", "job", "result"]);
    const noticeAt = new Map<string, number>();
    let expecting: ((at: number) => void) | null = null;
    inbox.onMessage("notice", () => {
      const at = performance.now();
      expecting?.(at);
    });
    const room = await (await sdkClient(b.url, DEMO.follower)).joinOrCreate("conversation", { conversationId: conversationId!, view: "mine" });
    rooms.push(room);
    quiet(room, ["notice"]);
    await firstState(room);
    let answered: ((r: { ok: boolean; code?: string }, at: number) => void) | null = null;
    room.onMessage("result", (r: { ok: boolean; code?: string }) => answered?.(r, performance.now()));
    const where = { inbox: await roomProcess(redisUrl, `inbox-${finn.id}`), conversation: await roomProcess(redisUrl, conversationId!) };

    log(`P7: ${NOTICES} notices across processes…`);
    const gaps: number[] = [];
    const sendToNotice: number[] = [];
    for (let i = 0; i < NOTICES; i++) {
      const type = i % 2 === 0 ? "add_collaborators" : "remove_collaborators";
      const t0 = performance.now();
      const [result, notice] = await Promise.all([
        new Promise<{ r: { ok: boolean; code?: string }; at: number }>((resolve) => {
          answered = (r, at) => resolve({ r, at });
        }),
        new Promise<number>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`P7: no notice for action ${i} in 10 s`)), 10_000);
          expecting = (at) => {
            clearTimeout(t);
            resolve(at);
          };
        }),
        (async () => room.send(type, { requestId: `p7-${i}`, memberIds: [finn.id] }))(),
      ]);
      if (!result.r.ok) throw new Error(`P7: ${type} refused: ${result.r.code}`);
      gaps.push(notice - result.at);
      sendToNotice.push(notice - t0);
      noticeAt.set(String(i), notice);
    }

    log("P7: raw Redis pub/sub baseline…");
    const pub = createClient({ url: redisUrl });
    const sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    const base: number[] = [];
    try {
      let got: ((at: number) => void) | null = null;
      await sub.subscribe("p7-bench", () => got?.(performance.now()));
      await sleep(100);
      for (let i = 0; i < NOTICES; i++) {
        const t0 = performance.now();
        const at = await new Promise<number>((resolve) => {
          got = resolve;
          void pub.publish("p7-bench", JSON.stringify({ i, text: "x".repeat(200) }));
        });
        base.push(at - t0);
      }
    } finally {
      await Promise.all([pub.quit(), sub.quit()]);
    }
    const p99 = pct(gaps, 99);
    const b99 = pct(base, 99);
    return [
      {
        id: "P7",
        metric: `notice to a member on another process: later than the actor's own answer, p99 (p50 ${pct(gaps, 50).toFixed(1)} ms; action sent → notice p50 ${pct(sendToNotice, 50).toFixed(1)} / p99 ${pct(sendToNotice, 99).toFixed(1)} ms)`,
        ours: p99,
        baseline: b99,
        baselineName: `raw Redis pub/sub publish → receipt (p50 ${pct(base, 50).toFixed(2)} ms)`,
        unit: "ms",
        target: "≤ baseline + 5 ms",
        met: p99 <= b99 + 5,
        command,
        checks: [
          `${NOTICES} actions answered ok, ${noticeAt.size} notices received; inbox room on process ${where.inbox}, conversation room on ${where.conversation}${where.inbox === where.conversation ? " (the same process: this run did not cross processes)" : ""}`,
        ],
      },
    ];
  } finally {
    await Promise.all(rooms.map((r) => r.leave().catch(() => {})));
    await cluster.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { standalone } = await import("./main.ts");
  await standalone("P7", run);
}
