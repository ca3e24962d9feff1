import type { Room } from "@colyseus/sdk";
import WebSocket from "ws";
import { DEMO, type Row, cpuMs, firstState, int, log, pct, pool, sdkClient, seedConversations, sleep, startPlainWs, startServers } from "./common.ts";
import { Watcher, quiet } from "./watch.ts";

/**
 * P2: the time from a staff reply sent over the SDK to the state patch showing it at each other
 * client of the room, at RATE replies per second (open loop, spread evenly over ROOMS rooms) for
 * SECONDS seconds; every room has 6 clients (the follower twice — one of them sends —, the
 * collaborator twice, a supervisor and an admin in the team view).
 *
 * Baseline, same run: a plain `ws` server process (bench/p/plain-ws.ts) with the same rooms and
 * sockets, each "reply" a BYTES-byte message sent by one socket and relayed to the 5 others, at the
 * same rate; the time from send to each receipt.
 */
const ROOMS = int("BENCH_P2_ROOMS", 200);
const RATE = int("BENCH_P2_RATE", 500);
const SECONDS = int("BENCH_P2_SECONDS", 10);
const BYTES = int("BENCH_P2_BYTES", 256);
const TICK_MS = 10;

export const command = `npm run bench:p2  (BENCH_P2_ROOMS=${ROOMS} BENCH_P2_RATE=${RATE} BENCH_P2_SECONDS=${SECONDS})`;

/** Calls `send(i)` for i = 0…total-1 at `rate` per second, in ticks of TICK_MS. */
async function openLoop(total: number, rate: number, send: (i: number) => void): Promise<void> {
  const t0 = performance.now();
  let i = 0;
  while (i < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
    for (; i < due; i++) send(i);
    await sleep(TICK_MS);
  }
}

async function ours(
  url: string,
  pid: number,
  ids: readonly string[],
  total: number,
): Promise<{ latencies: number[]; refused: number; rooms: Room[]; serverCpuPerReply: number }> {
  const c = {
    sender: await sdkClient(url, DEMO.follower),
    follower: await sdkClient(url, DEMO.follower),
    collaborator: await sdkClient(url, DEMO.collaborator),
    supervisor: await sdkClient(url, DEMO.supervisor),
    admin: await sdkClient(url, DEMO.admin),
  };
  const senders: Room[] = [];
  const watchers: Watcher[][] = [];
  const rooms: Room[] = [];
  let refused = 0;
  await pool(ids, 16, async (conversationId, i) => {
    const joined = await Promise.all([
      c.sender.joinOrCreate("conversation", { conversationId, view: "mine" }),
      c.follower.joinOrCreate("conversation", { conversationId, view: "mine" }),
      c.collaborator.joinOrCreate("conversation", { conversationId, view: "mine" }),
      c.collaborator.joinOrCreate("conversation", { conversationId, view: "mine" }),
      c.supervisor.joinOrCreate("conversation", { conversationId, view: "team" }),
      c.admin.joinOrCreate("conversation", { conversationId, view: "team" }),
    ]);
    rooms.push(...joined);
    for (const r of joined) quiet(r, ["notice"]);
    for (const r of joined.slice(1)) quiet(r, ["result"]);
    joined[0]!.onMessage("result", (r: { ok: boolean }) => {
      if (!r.ok) refused++;
    });
    await Promise.all(joined.map(firstState));
    senders[i] = joined[0]!;
    watchers[i] = joined.slice(1).map((r) => new Watcher(r, "p2 #"));
  });
  const sentAt: number[] = [];
  log(`P2: ${total} replies at ${RATE}/s over ${ids.length} rooms × 6 clients…`);
  const cpu0 = cpuMs(pid);
  await openLoop(total, RATE, (i) => {
    sentAt[i] = performance.now();
    senders[i % ids.length]!.send("reply", { requestId: `p2-${i}`, text: `p2 #${i}` });
  });
  const deadline = performance.now() + 60_000;
  const seen = (i: number) => watchers[i % ids.length]!.every((w) => w.seenAt.has(`p2 #${i}`));
  for (;;) {
    let all = true;
    for (let i = 0; i < total && all; i++) all = seen(i);
    if (all || performance.now() > deadline) break;
    await sleep(50);
  }
  const serverCpuPerReply = (cpuMs(pid) - cpu0) / total;
  const latencies: number[] = [];
  for (let i = 0; i < total; i++)
    for (const w of watchers[i % ids.length]!) {
      const at = w.seenAt.get(`p2 #${i}`);
      if (at === undefined) throw new Error(`P2: reply ${i} never reached a client`);
      latencies.push(at - sentAt[i]!);
    }
  return { latencies, refused, rooms, serverCpuPerReply };
}

async function plain(total: number): Promise<number[]> {
  const server = await startPlainWs();
  const sockets: WebSocket[] = [];
  try {
    const open = (room: number) =>
      new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${server.port}/${room}`);
        ws.once("open", () => resolve(ws));
        ws.once("error", reject);
      });
    const rooms: WebSocket[][] = await pool(
      Array.from({ length: ROOMS }, (_, r) => r),
      16,
      async (r) => Promise.all(Array.from({ length: 6 }, () => open(r))),
    );
    for (const room of rooms) sockets.push(...room);
    const sentAt: number[] = [];
    const latencies: number[] = [];
    for (const room of rooms)
      for (const ws of room.slice(1))
        ws.on("message", (data: Buffer) => {
          latencies.push(performance.now() - sentAt[data.readUInt32BE(0)]!);
        });
    await sleep(500);
    await openLoop(total, RATE, (i) => {
      const payload = Buffer.alloc(BYTES, 0x61);
      payload.writeUInt32BE(i, 0);
      sentAt[i] = performance.now();
      rooms[i % ROOMS]![0]!.send(payload);
    });
    const deadline = performance.now() + 30_000;
    while (latencies.length < total * 5 && performance.now() < deadline) await sleep(20);
    return latencies;
  } finally {
    for (const s of sockets) s.terminate();
    server.stop();
  }
}

export async function run(): Promise<Row[]> {
  const total = RATE * SECONDS;
  const cluster = await startServers();
  let rooms: Room[] = [];
  try {
    const ids = await seedConversations(cluster.sql, {
      prefix: "p2",
      count: ROOMS,
      channel: "webchat",
      channelId: "demo-webchat",
      status: "in_progress",
      followerId: DEMO.follower.id,
      collaboratorIds: [DEMO.collaborator.id],
    });
    const o = await ours(cluster.servers[0]!.url, cluster.servers[0]!.child.pid!, ids, total);
    rooms = o.rooms;
    await Promise.all(rooms.map((r) => r.leave().catch(() => {})));
    rooms = [];
    log("P2: the plain ws baseline…");
    const base = await plain(total);
    const p99 = pct(o.latencies, 99);
    const b99 = pct(base, 99);
    return [
      {
        id: "P2",
        metric: `reply → the 5 other clients' patches, p99, ${RATE} replies/s over ${ROOMS} rooms × 6 clients (p50 ${pct(o.latencies, 50).toFixed(1)} ms)`,
        ours: p99,
        baseline: b99,
        baselineName: `plain \`ws\` relay of ${BYTES}-byte messages, same rooms and rate (p50 ${pct(base, 50).toFixed(1)} ms)`,
        unit: "ms",
        target: "≤ 2×",
        met: p99 <= 2 * b99,
        command,
        checks: [
          `${total} replies, ${o.refused} refused; every committed reply seen by all 5 other clients; baseline receipts ${base.length} of ${total * 5}`,
          `server CPU ${o.serverCpuPerReply.toFixed(2)} ms per reply (from the first reply sent until the last patch seen)`,
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
  await standalone("P2", run);
}
