import type { Room } from "@colyseus/sdk";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import WebSocket from "ws";
import { freePort } from "../../test/support/child.ts";
import { type Row, WORKSPACE, collectGarbage, cpuMs, int, log, pool, rssKiB, sdkClient, sleep, startPlainWs, startServers } from "./common.ts";
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

/**
 * With BENCH_HEAP_SNAPSHOT=<dir> (the server then writes a heap snapshot there on SIGUSR2,
 * bench/p/common.ts): one before the joins and one after, to compare what a connection holds.
 */
async function heapSnapshot(pid: number): Promise<void> {
  const dir = process.env.BENCH_HEAP_SNAPSHOT;
  if (!dir) return;
  const snapshots = () => readdirSync(dir).filter((f) => f.endsWith(".heapsnapshot"));
  const count = snapshots().length;
  process.kill(pid, "SIGUSR2");
  // Written synchronously by the server: done once a new file's size holds still.
  let size = -1;
  for (;;) {
    await sleep(1000);
    const files = snapshots();
    if (files.length <= count) continue;
    const now = statSync(join(dir, files.sort().at(-1)!)).size;
    if (now === size) break;
    size = now;
  }
  log(`P3: heap snapshot written in ${dir}`);
}

/**
 * A process's RSS as it is (`raw`: it includes the garbage the joins left for V8's next
 * collection, so it depends on when that last ran), and after a full garbage collection
 * (`collected`: what the process holds), in KiB.
 */
async function measure(pid: number, inspectPort: number): Promise<{ raw: number; collected: number }> {
  const raw = rssKiB(pid);
  await collectGarbage(inspectPort);
  await sleep(1000);
  return { raw, collected: rssKiB(pid) };
}

function perConnection(before: { raw: number; collected: number }, after: { raw: number; collected: number }, n: number) {
  return { raw: (after.raw - before.raw) / n, collected: (after.collected - before.collected) / n };
}

export const command = `npm run bench:p3  (BENCH_P3_CONNECTIONS=${CONNECTIONS})`;

export async function run(): Promise<Row[]> {
  const inspectPort = await freePort();
  const cluster = await startServers({ nodeArgs: [`--inspect=127.0.0.1:${inspectPort}`] });
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
    await heapSnapshot(pid);
    const before = await measure(pid, inspectPort);
    log(`P3: ${CONNECTIONS} inbox joins (server RSS before: ${(before.raw / 1024).toFixed(0)} MiB, ${(before.collected / 1024).toFixed(0)} MiB after a full GC)…`);
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
    const after = await measure(pid, inspectPort);
    await heapSnapshot(pid);
    // CPU the idle server spends with every connection in its room (timers, keep-alives).
    const idle0 = cpuMs(pid);
    await sleep(5000);
    const idlePercent = ((cpuMs(pid) - idle0) / 5000) * 100;
    const ours = perConnection(before, after, CONNECTIONS);
    await Promise.all(rooms.map((r) => r.leave().catch(() => {})));
    rooms.length = 0;

    log("P3: the plain ws baseline…");
    const plainInspect = await freePort();
    const plain = await startPlainWs([`--inspect=127.0.0.1:${plainInspect}`]);
    const sockets: WebSocket[] = [];
    let base: { raw: number; collected: number };
    try {
      await sleep(SETTLE_MS);
      const b0 = await measure(plain.pid, plainInspect);
      await pool(ids, WIDTH, async (id) => {
        const ws = new WebSocket(`ws://127.0.0.1:${plain.port}/${id}`);
        await new Promise((resolve, reject) => {
          ws.once("open", resolve);
          ws.once("error", reject);
        });
        sockets.push(ws);
      });
      await sleep(SETTLE_MS);
      base = perConnection(b0, await measure(plain.pid, plainInspect), CONNECTIONS);
    } finally {
      for (const s of sockets) s.terminate();
      plain.stop();
    }
    return [
      {
        id: "P3",
        metric: `server RSS per idle staff connection in its inbox room, ${CONNECTIONS} connections in one process, each process's RSS read after a full garbage collection (without one: ${ours.raw.toFixed(1)} KiB against ${base.raw.toFixed(1)} KiB, ${(ours.raw / base.raw).toFixed(2)}×)`,
        ours: ours.collected,
        baseline: base.collected,
        baselineName: "plain `ws` server, the same number of idle sockets, measured the same way",
        unit: "KiB",
        target: "≤ 4×",
        met: ours.collected <= 4 * base.collected,
        command,
        checks: [
          `server RSS ${(before.raw / 1024).toFixed(0)} → ${(after.raw / 1024).toFixed(0)} MiB; after a full GC ${(before.collected / 1024).toFixed(0)} → ${(after.collected / 1024).toFixed(0)} MiB; idle with them, the server used ${idlePercent.toFixed(1)} % of a core`,
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
