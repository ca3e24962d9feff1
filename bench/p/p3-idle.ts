import type { Room } from "@colyseus/sdk";
import WebSocket from "ws";
import { type Row, WORKSPACE, cpuMs, int, log, pool, rssKiB, sdkClient, sleep, startPlainWs, startServers } from "./common.ts";
import { quiet } from "./watch.ts";

/**
 * P3: the server's resident memory per idle staff connection: CONNECTIONS members (seeded by SQL),
 * each joined to their own inbox room with the SDK, all in one server process; (RSS with them −
 * RSS before) / CONNECTIONS, RSS read from /proc after a settle. Also the inbox join rate per
 * thousand joins (issue 10 saw it fall as members were added).
 *
 * Baseline, same run: a plain `ws` server process (bench/p/plain-ws.ts) with the same number of
 * idle sockets, measured the same way.
 */
const CONNECTIONS = int("BENCH_P3_CONNECTIONS", 10_000);
const WIDTH = int("BENCH_P3_JOIN_CONCURRENCY", 32);
const SETTLE_MS = 3000;

export const command = `npm run bench:p3  (BENCH_P3_CONNECTIONS=${CONNECTIONS})`;

export async function run(): Promise<Row[]> {
  const cluster = await startServers();
  const rooms: Room[] = [];
  try {
    const { sql } = cluster;
    const ids = Array.from({ length: CONNECTIONS }, (_, i) => `p3-m${i}`);
    await sql`insert into members (id, workspace_id, name, email, role, password_hash)
      select id, ${WORKSPACE}, 'P3 ' || id, id || '@p3.test', 'agent', (select password_hash from members where id = 'demo-agent')
      from unnest(${ids}::text[]) as t(id)`;
    const server = cluster.servers[0]!;
    const pid = server.child.pid!;
    await sleep(SETTLE_MS);
    const before = rssKiB(pid);
    log(`P3: ${CONNECTIONS} inbox joins (server RSS before: ${(before / 1024).toFixed(0)} MiB)…`);
    const perThousand: number[] = [];
    const cpuPerJoin: string[] = [];
    let chunkStart = performance.now();
    let serverCpu0 = cpuMs(pid);
    let benchCpu0 = process.cpuUsage();
    let done = 0;
    await pool(ids, WIDTH, async (id) => {
      const client = await sdkClient(server.url, { id, role: "agent" });
      const room = await client.joinOrCreate("inbox", { memberId: id });
      quiet(room);
      rooms.push(room);
      done++;
      if (done % 1000 === 0) {
        const now = performance.now();
        perThousand.push(1000 / ((now - chunkStart) / 1000));
        chunkStart = now;
        const serverCpu = cpuMs(pid);
        const bench = process.cpuUsage(benchCpu0);
        cpuPerJoin.push(`${((serverCpu - serverCpu0) / 1000).toFixed(1)}/${((bench.user + bench.system) / 1e6).toFixed(1)}`);
        serverCpu0 = serverCpu;
        benchCpu0 = process.cpuUsage();
        log(`P3: ${done} joined, ${perThousand.at(-1)!.toFixed(0)} joins/s, CPU ms per join server/bench ${cpuPerJoin.at(-1)}`);
      }
    });
    await sleep(SETTLE_MS);
    const after = rssKiB(pid);
    // CPU the idle server spends with every connection in its room (timers, keep-alives).
    const idle0 = cpuMs(pid);
    await sleep(5000);
    const idlePercent = ((cpuMs(pid) - idle0) / 5000) * 100;
    const oursKiB = (after - before) / CONNECTIONS;
    await Promise.all(rooms.map((r) => r.leave().catch(() => {})));
    rooms.length = 0;

    log("P3: the plain ws baseline…");
    const plain = await startPlainWs();
    const sockets: WebSocket[] = [];
    let baseKiB: number;
    try {
      await sleep(SETTLE_MS);
      const b0 = rssKiB(plain.pid);
      await pool(ids, WIDTH, async (id) => {
        const ws = new WebSocket(`ws://127.0.0.1:${plain.port}/${id}`);
        await new Promise((resolve, reject) => {
          ws.once("open", resolve);
          ws.once("error", reject);
        });
        sockets.push(ws);
      });
      await sleep(SETTLE_MS);
      baseKiB = (rssKiB(plain.pid) - b0) / CONNECTIONS;
    } finally {
      for (const s of sockets) s.terminate();
      plain.stop();
    }
    return [
      {
        id: "P3",
        metric: `server RSS per idle staff connection in its inbox room, ${CONNECTIONS} connections in one process`,
        ours: oursKiB,
        baseline: baseKiB,
        baselineName: "plain `ws` server, the same number of idle sockets",
        unit: "KiB",
        target: "≤ 4×",
        met: oursKiB <= 4 * baseKiB,
        command,
        checks: [
          `server RSS ${(before / 1024).toFixed(0)} → ${(after / 1024).toFixed(0)} MiB; idle with them, the server used ${idlePercent.toFixed(1)} % of a core`,
          `inbox joins per second, per thousand members joined (concurrency ${WIDTH}): ${perThousand.map((v) => v.toFixed(0)).join(", ")}`,
          `CPU ms per join, server / bench process (the SDK clients), per thousand: ${cpuPerJoin.join(", ")}`,
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
  await standalone("P3", run);
}
