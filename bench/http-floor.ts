/**
 * The HTTP floor of a webhook: server CPU per request for requests that do no work of ours —
 * `GET /healthz` and a LINE webhook for an unknown channel (refused before any storage) — next to
 * the same `GET /healthz` answered by plain `node:http` and by a bare Hono app (bench/p/plain-http.ts),
 * all in the same run. P1's cost per message is then "HTTP through our stack" plus the rest.
 *
 *   npx tsx bench/http-floor.ts
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { cpuMs, int, log, startServers } from "./p/common.ts";
import { type LoadRequest, runLoad } from "./support/load.ts";

const N = int("BENCH_FLOOR_REQUESTS", 5000);
const C = int("BENCH_FLOOR_CONCURRENCY", 64);

async function plain(mode: "node" | "hono"): Promise<{ url: string; pid: number; stop(): void }> {
  const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("./p/plain-http.ts", import.meta.url)), mode], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once("data", (d) => resolve(Number(String(d).trim())));
    child.once("exit", (code) => reject(new Error(`plain http server exited ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, pid: child.pid!, stop: () => child.kill("SIGKILL") };
}

async function measure(name: string, url: string, pid: number, req: () => LoadRequest): Promise<void> {
  await runLoad(url, 500, C, req); // warm
  const cpu0 = cpuMs(pid);
  const r = await runLoad(url, N, C, req);
  const cpu = cpuMs(pid) - cpu0;
  log(`${name}: ${r.perSecond.toFixed(0)} req/s, server CPU ${(cpu / N).toFixed(3)} ms per request (status ${r.answers[0]?.status})`);
}

const healthz = () => ({ method: "GET" as const, path: "/healthz" });
for (const mode of ["node", "hono"] as const) {
  const p = await plain(mode);
  try {
    await measure(`GET /healthz, plain ${mode === "node" ? "node:http" : "Hono on @hono/node-server"}`, p.url, p.pid, healthz);
  } finally {
    p.stop();
  }
}
const cluster = await startServers();
try {
  const { url, child } = cluster.servers[0]!;
  const pid = child.pid!;
  for (const [name, req] of [
    ["GET /healthz", healthz],
    ["GET /readyz", () => ({ method: "GET" as const, path: "/readyz" })],
    [
      "POST /webhooks/line/<unknown> (404, no storage)",
      () => ({ method: "POST" as const, path: "/webhooks/line/nope", headers: { "content-type": "application/json", "x-line-signature": "x" }, body: '{"destination":"x","events":[]}' }),
    ],
  ] as const) {
    await measure(`ours: ${name}`, url, pid, req);
  }
} finally {
  await cluster.stop();
}
