/**
 * The HTTP floor of a webhook: server CPU per request for requests that do no work of ours —
 * `GET /healthz` and a LINE webhook for an unknown channel (refused before any storage) — next
 * to P1's signed webhooks, so P1's cost per message can be split into "HTTP through our stack"
 * and "the rest".
 *
 *   npx tsx bench/http-floor.ts
 */
import { cpuMs, int, log, startServers } from "./p/common.ts";
import { runLoad } from "./support/load.ts";

const N = int("BENCH_FLOOR_REQUESTS", 5000);
const C = int("BENCH_FLOOR_CONCURRENCY", 64);

const cluster = await startServers();
try {
  const { url, child } = cluster.servers[0]!;
  const pid = child.pid!;
  for (const [name, req] of [
    ["GET /healthz", () => ({ method: "GET" as const, path: "/healthz" })],
    ["GET /readyz", () => ({ method: "GET" as const, path: "/readyz" })],
    [
      "POST /webhooks/line/<unknown> (404, no storage)",
      () => ({ method: "POST" as const, path: "/webhooks/line/nope", headers: { "content-type": "application/json", "x-line-signature": "x" }, body: '{"destination":"x","events":[]}' }),
    ],
  ] as const) {
    await runLoad(url, 500, C, req); // warm
    const cpu0 = cpuMs(pid);
    const r = await runLoad(url, N, C, req);
    const cpu = cpuMs(pid) - cpu0;
    log(`${name}: ${r.perSecond.toFixed(0)} req/s, server CPU ${(cpu / N).toFixed(3)} ms per request (status ${r.answers[0]?.status})`);
  }
} finally {
  await cluster.stop();
}
