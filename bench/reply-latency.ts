/**
 * Reply latency: the time from one participant's SDK `send("reply")` to the state patch that
 * shows the reply at another participant, over N replies, next to a baseline measured in the same
 * run: the round trip of a message the room refuses at once (same socket, handler and answer
 * path, no database). The figure to read is the ratio.
 *
 *   npm run bench                       # PGlite in memory
 *   DATABASE_URL=postgres://… npm run bench
 *   BENCH_N=1000 (default)
 */
import { Client } from "@colyseus/sdk";
import pino from "pino";
import { startApp } from "../server/app.ts";
import { parseConfig } from "../server/config.ts";

const N = Number(process.env.BENCH_N ?? 1000);

function pct(xs: number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main() {
  const config = parseConfig({
    PORT: "0",
    HOST: "127.0.0.1",
    DATA_DIR: "memory://",
    SEED_DEMO: "true",
    JWT_SECRET: "bench-secret-bench-secret-bench-secret",
    ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
  });
  const app = await startApp(config, { log: pino({ level: "silent" }) });
  const token = async (email: string) => {
    const r = await fetch(`${app.url}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password: "demo-password" }),
    });
    return ((await r.json()) as { accessToken: string }).accessToken;
  };
  const join = async (email: string) => {
    const c = new Client(`ws://127.0.0.1:${app.port}`);
    c.auth.token = await token(email);
    return c.joinOrCreate("conversation", { conversationId: "demo-collab-full", view: "mine" });
  };
  const sender = await join("admin@demo.test");
  const watcher = await join("supervisor@demo.test");

  let answered: ((id: string) => void) | null = null;
  sender.onMessage("result", (r: { requestId: string }) => answered?.(r.requestId));
  let patched: (() => void) | null = null;
  let expectBody = "";
  watcher.onStateChange((state: any) => {
    if (patched && state.messages.at(-1)?.body === expectBody) patched();
  });

  const baseline: number[] = [];
  const reply: number[] = [];
  for (let i = 0; i < N; i++) {
    // Baseline: a refused action's round trip (parse at the edge, answer, no storage).
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      answered = (id) => id === `b${i}` && resolve();
      sender.send("bench_unknown", { requestId: `b${i}` });
    });
    baseline.push(performance.now() - t0);

    // Reply: send → committed → patch at the other participant.
    expectBody = `bench reply ${i}`;
    const t1 = performance.now();
    await new Promise<void>((resolve) => {
      patched = resolve;
      sender.send("reply", { requestId: `r${i}`, text: expectBody });
    });
    patched = null;
    reply.push(performance.now() - t1);
  }

  const row = (name: string, xs: number[]) => `${name.padEnd(34)} p50 ${pct(xs, 50).toFixed(2).padStart(7)} ms   p99 ${pct(xs, 99).toFixed(2).padStart(7)} ms`;
  console.log(`reply latency, ${N} replies, database: ${app.database.kind}`);
  console.log(row("baseline (refused action round trip)", baseline));
  console.log(row("reply → other participant's patch", reply));
  console.log(
    `ratio reply/baseline: p50 ${(pct(reply, 50) / pct(baseline, 50)).toFixed(1)}×   p99 ${(pct(reply, 99) / pct(baseline, 99)).toFixed(1)}×`,
  );
  await sender.leave();
  await watcher.leave();
  await app.stop();
}

await main();
