import type { Logger } from "pino";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import { createClient } from "redis";
import type { LimitRule } from "./config.ts";

/**
 * Rate limits (rate-limiter-flexible): fixed windows of `points` per `seconds` per key.
 *
 * With `REDIS_URL` the counts live in Redis, shared by every process, through a client of the
 * `redis` package of our own rather than the ioredis connections Colyseus's `RedisPresence` holds:
 * those are Colyseus's internals (one of them in subscriber mode), and they queue commands while
 * Redis is away, so a sign-in would wait on an outage. Ours fails fast instead
 * (`disableOfflineQueue`), and every Redis call has `REDIS_DEADLINE_MS`. Each process also keeps
 * memory counts of the same limits (see `take`): when Redis errs or is slow they decide alone, so an
 * outage neither blocks sign-ins nor lifts the limits. Without `REDIS_URL`, memory only.
 */

export const LimitName = {
  /** Failed sign-ins per account (the email, lower-cased). */
  loginAccount: "login_account",
  /** Failed sign-ins per client address. */
  loginAddress: "login_address",
  /** Room messages per member. */
  roomAction: "room_action",
  /** Webhook (and Webchat) requests per channel account. */
  webhook: "webhook",
} as const;
export type LimitName = (typeof LimitName)[keyof typeof LimitName];

export type LimitRules = Readonly<Record<LimitName, LimitRule>>;

/** Allowed, or refused with how long until the window ends. */
export type Verdict = { ok: true } | { ok: false; retryAfterMs: number };

/** How long a Redis call may take before the memory counts decide instead. */
export const REDIS_DEADLINE_MS = 1000;

type Limiter = RateLimiterMemory | RateLimiterRedis;

/** A client that fails fast while disconnected (no offline queue) and reconnects within 2 s steps. */
function redisClient(url: string) {
  return createClient({
    url,
    disableOfflineQueue: true,
    socket: { connectTimeout: 3000, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2000) },
  });
}
type RedisClient = ReturnType<typeof redisClient>;

export class RateLimits {
  private readonly memory = new Map<LimitName, RateLimiterMemory>();
  private readonly shared = new Map<LimitName, RateLimiterRedis>();
  private lastWarning = 0;

  private constructor(
    readonly rules: LimitRules,
    private readonly log: Logger,
    private readonly client: RedisClient | null,
    keyPrefix: string,
  ) {
    for (const name of Object.values(LimitName)) {
      const { points, seconds } = rules[name];
      this.memory.set(name, new RateLimiterMemory({ points, duration: seconds, keyPrefix: `${keyPrefix}:${name}` }));
      if (client) {
        this.shared.set(name, new RateLimiterRedis({ storeClient: client, useRedisPackage: true, points, duration: seconds, keyPrefix: `${keyPrefix}:${name}` }));
      }
    }
  }

  /** Memory counts, or Redis counts (with memory as the fallback) when `redisUrl` is given. */
  static async create(opts: { rules: LimitRules; log: Logger; redisUrl?: string; keyPrefix?: string }): Promise<RateLimits> {
    const keyPrefix = opts.keyPrefix ?? "rl";
    if (!opts.redisUrl) return new RateLimits(opts.rules, opts.log, null, keyPrefix);
    const client = redisClient(opts.redisUrl);
    // Without a listener an error event would end the process; the calls fall back meanwhile.
    client.on("error", (err: unknown) => opts.log.debug({ err }, "rate-limit Redis connection error"));
    const limits = new RateLimits(opts.rules, opts.log, client, keyPrefix);
    try {
      await withDeadline(client.connect(), 3000);
    } catch (err) {
      // It keeps reconnecting in the background; memory decides until it is back.
      opts.log.warn({ err }, "rate limits: Redis not reachable at start; using per-process counts until it is");
    }
    return limits;
  }

  /** Where the counts are kept now: `redis` while its connection is ready, else `memory`. */
  get store(): "redis" | "memory" {
    return this.client?.isReady ? "redis" : "memory";
  }

  /**
   * Counts `points` against `key` and says whether that was allowed. The memory counts are always
   * kept too: this process's count of a key is never above the shared one, so refusing when either
   * refuses is never stricter than Redis alone, and when Redis errs or is slow the memory verdict
   * still holds the limit per process.
   */
  async take(name: LimitName, key: string, points = 1): Promise<Verdict> {
    const shared = this.shared.get(name);
    const [local, remote] = await Promise.all([
      verdictOf(this.memory.get(name)!.consume(key, points)),
      shared && this.client?.isReady ? verdictOf(withDeadline(shared.consume(key, points), REDIS_DEADLINE_MS)).catch((e: unknown) => this.warn(e)) : undefined,
    ]);
    const refusals = [local, remote].filter((v): v is { ok: false; retryAfterMs: number } => v !== undefined && !v.ok);
    if (refusals.length === 0) return { ok: true };
    return { ok: false, retryAfterMs: Math.max(...refusals.map((r) => r.retryAfterMs)) };
  }

  /** Gives `points` back to `key` (a sign-in that succeeded does not count as a failure). */
  async give(name: LimitName, key: string, points = 1): Promise<void> {
    await this.both(name, (l) => l.reward(key, points));
  }

  /** Clears `key`'s count (tests; an operator unlocking an account). */
  async clear(name: LimitName, key: string): Promise<void> {
    await this.both(name, (l) => l.delete(key));
  }

  /** Closes the Redis connection at once (pending calls fall back to memory): never waits on a lost Redis. */
  async stop(): Promise<void> {
    try {
      this.client?.destroy(); // also stops a reconnection under way
    } catch {
      // already closed
    }
  }

  private async both(name: LimitName, op: (l: Limiter) => Promise<unknown>): Promise<void> {
    const shared = this.shared.get(name);
    await Promise.all([
      op(this.memory.get(name)!).catch(() => {}),
      shared && this.client?.isReady ? withDeadline(op(shared), REDIS_DEADLINE_MS).catch((e: unknown) => this.warn(e)) : undefined,
    ]);
  }

  private warn(err: unknown): undefined {
    const now = Date.now();
    if (now - this.lastWarning < 10_000) return;
    this.lastWarning = now;
    this.log.warn({ err }, "rate limits: Redis failed or was slow; deciding with per-process counts");
    return undefined;
  }
}

/** A consume's outcome: allowed, refused (RateLimiterRes), or the store's error (thrown). */
async function verdictOf(consumed: Promise<unknown>): Promise<Verdict> {
  try {
    await consumed;
    return { ok: true };
  } catch (res) {
    if (res instanceof RateLimiterRes) return { ok: false, retryAfterMs: Math.max(1, res.msBeforeNext) };
    throw res;
  }
}

function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/** `Retry-After`'s value: whole seconds, at least 1. */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
