import { Agent, request } from "node:http";

/**
 * A small closed-loop HTTP load generator for the benchmarks: `concurrency` workers over
 * keep-alive connections (one each), each sending its next request as soon as the previous one is
 * answered, until `count` requests have been answered. The same client serves every scenario of a
 * run, baseline included, so its own cost is the same on both sides of a ratio.
 */

export interface LoadRequest {
  readonly method: "GET" | "POST";
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

export interface Answer {
  readonly status: number;
  readonly body: string;
}

export interface LoadResult {
  /** Answer times in ms, in completion order. */
  readonly latencies: number[];
  /** Wall time of the whole run, first request sent to last answer read, in ms. */
  readonly wallMs: number;
  /** Requests answered per second over the wall time. */
  readonly perSecond: number;
  readonly answers: Answer[];
}

/** An integer setting of a benchmark from the environment (`fallback` when unset), at least `min`. */
export function int(name: string, fallback: number, min = 1): number {
  const raw = process.env[name];
  const v = raw === undefined || raw === "" ? fallback : Number(raw);
  if (!Number.isInteger(v) || v < min) throw new Error(`${name}: ${raw} is not an integer ≥ ${min}`);
  return v;
}

/** The `p`th percentile (nearest rank) of `xs`. */
export function pct(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function send(agent: Agent, base: URL, r: LoadRequest): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = r.body === undefined ? undefined : Buffer.from(r.body, "utf8");
    const req = request(
      {
        agent,
        host: base.hostname,
        port: base.port,
        method: r.method,
        path: r.path,
        headers: { ...r.headers, ...(body ? { "content-length": String(body.length) } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error(`${r.method} ${r.path}: no answer in 30 s`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** Sends `count` requests made by `make(i)` to `baseUrl` with `concurrency` in flight; bounded by count. */
export async function runLoad(baseUrl: string, count: number, concurrency: number, make: (i: number) => LoadRequest): Promise<LoadResult> {
  const base = new URL(baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  // Requests are built before the clock starts: signing is the provider's cost, not the server's.
  const requests = Array.from({ length: count }, (_, i) => make(i));
  const latencies: number[] = [];
  const answers: Answer[] = new Array(count);
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      const s = performance.now();
      answers[i] = await send(agent, base, requests[i]!);
      latencies.push(performance.now() - s);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  } finally {
    agent.destroy();
  }
  const wallMs = performance.now() - t0;
  return { latencies, wallMs, perSecond: (count / wallMs) * 1000, answers };
}
