import net from "node:net";
import type postgres from "postgres";
import { StorageTimeout } from "./errors.ts";

/**
 * Client-side deadlines for PostgreSQL. `statement_timeout` makes the server cancel a slow
 * statement, and `connect_timeout` bounds a connection's start, but neither helps when the
 * connection itself stalls (the server, or the network to it, stops answering): postgres.js would
 * wait forever. So every query and every transaction also races a timer here; when it fires, the
 * caller gets `StorageTimeout` (mapped to STORAGE_UNAVAILABLE) and the connections that have not
 * heard from the server lately are destroyed, so the pool reconnects instead of queueing behind a
 * dead socket.
 */

/** The sockets of one pool, with when each last heard from the server. */
export class SocketWatch {
  private readonly sockets = new Map<net.Socket, { lastRead: number }>();

  /** postgres.js `socket` option: opens the connection itself so the watch sees every byte read. */
  open = (options: { host: string[]; port: number[]; path?: string | false }): net.Socket => {
    const socket = options.path ? net.connect(options.path) : net.connect(options.port[0] ?? 5432, options.host[0] ?? "localhost");
    const entry = { lastRead: performance.now() };
    this.sockets.set(socket, entry);
    socket.on("data", () => {
      entry.lastRead = performance.now();
    });
    socket.once("close", () => this.sockets.delete(socket));
    return socket;
  };

  /**
   * Destroys every connection that has heard nothing from the server for `quietMs`: the stalled
   * ones, and idle ones, which the pool simply reopens when needed.
   */
  destroyQuiet(quietMs: number): void {
    const now = performance.now();
    for (const [socket, { lastRead }] of this.sockets) {
      if (now - lastRead >= quietMs) socket.destroy();
    }
  }
}

type Sql = postgres.Sql;

/**
 * Resolves or rejects like `work`, or rejects with `timeout()`'s error after `ms`, whichever comes
 * first (`work` itself is not cancelled: the caller's `timeout` does what stopping it takes).
 */
export function raceDeadline<T>(work: PromiseLike<T>, ms: number, timeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(timeout()), ms);
    work.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

/** Resolves or rejects like `work`, or rejects with `StorageTimeout` after `ms` (calling `onTimeout`). */
export function withDeadline<T>(work: PromiseLike<T>, ms: number, onTimeout: () => void): Promise<T> {
  return raceDeadline(work, ms, () => {
    onTimeout();
    return new StorageTimeout(ms);
  });
}

/** Codes with which postgres.js (or the socket) says the connection itself is gone. */
const CONNECTION_LOST = new Set(["CONNECTION_CLOSED", "CONNECTION_DESTROYED", "CONNECTION_ENDED", "ECONNRESET", "EPIPE", "ECONNABORTED"]);

function connectionLost(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === "object" && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && CONNECTION_LOST.has(code)) return true;
  }
  return false;
}

/** A promise that never settles: what a transaction callback returns once its connection is gone. */
const NEVER = new Promise<never>(() => {});

interface Guard {
  readonly ms: number;
  readonly onTimeout: () => void;
  /** Told when a statement failed because the connection is gone. */
  readonly lost?: () => void;
  /** Called when a query starts (true) and settles (false): a transaction's own deadline waits meanwhile. */
  readonly busy?: (on: boolean) => void;
  /** Set once the enclosing transaction timed out: later statements in it fail at once. */
  readonly dead?: () => boolean;
}

/** A postgres.js pending query, made to race the deadline when awaited. Keeps `.values()`. */
function guardedQuery(query: postgres.PendingQuery<postgres.Row[]>, guard: Guard): PromiseLike<unknown> & { values(): PromiseLike<unknown> } {
  const run = (): Promise<unknown> => {
    if (guard.dead?.()) return Promise.reject(new StorageTimeout(guard.ms));
    guard.busy?.(true);
    return withDeadline(query, guard.ms, guard.onTimeout)
      .catch((e: unknown) => {
        if (connectionLost(e)) guard.lost?.();
        throw e;
      })
      .finally(() => guard.busy?.(false));
  };
  return {
    // biome-ignore lint/suspicious/noThenProperty: a thenable on purpose: drizzle awaits the query
    then: (onFulfilled, onRejected) => run().then(onFulfilled, onRejected),
    values() {
      query.values();
      return this;
    },
  };
}

/**
 * A transaction (`begin` / `savepoint`) whose callback gets a guarded handle, with its own
 * deadline for the time no statement of it is running (waiting for a pooled connection, the
 * COMMIT, or the caller idling inside the transaction).
 *
 * Once the transaction's connection is gone, nothing more of it reaches postgres.js: not the
 * caller's next statement, and not the ROLLBACK or COMMIT postgres.js would send when the callback
 * settles — postgres.js 3.4 writes those to the closed connection's null socket from a
 * `setImmediate`, an uncaught TypeError that would end the process. The callback's promise is left
 * unsettled instead; `begin` has already rejected with CONNECTION_CLOSED.
 */
function guardedTransaction(start: (cb: (tx: Sql) => unknown) => Promise<unknown>, cb: (tx: Sql) => unknown, guard: Guard): Promise<unknown> {
  let timedOut = false;
  let lost = false;
  let timer: NodeJS.Timeout | undefined;
  let running = 0;
  return new Promise((resolve, reject) => {
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = true;
        guard.onTimeout();
        reject(new StorageTimeout(guard.ms));
      }, guard.ms);
    };
    const inner: Guard = {
      ms: guard.ms,
      onTimeout: guard.onTimeout,
      lost: () => {
        lost = true;
        guard.lost?.();
      },
      busy: (on) => {
        running += on ? 1 : -1;
        if (running > 0) clearTimeout(timer);
        else arm();
      },
      dead: () => timedOut || lost || (guard.dead?.() ?? false),
    };
    arm();
    start(async (tx) => {
      clearTimeout(timer);
      let result: unknown;
      try {
        result = await cb(guard_(tx, inner));
      } catch (e) {
        if (lost) return NEVER;
        arm(); // now the ROLLBACK runs outside our view
        throw e;
      }
      if (lost) return NEVER;
      arm(); // now the COMMIT runs outside our view
      return result;
    }).then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        if (connectionLost(e)) inner.lost?.();
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

function guard_(sql: Sql, guard: Guard): Sql {
  return new Proxy(sql, {
    get(target, prop, receiver) {
      if (prop === "unsafe") {
        return (query: string, params?: unknown[], options?: postgres.UnsafeQueryOptions) =>
          guardedQuery(target.unsafe(query, params as postgres.ParameterOrJSON<never>[], options), guard);
      }
      if (prop === "begin" || prop === "savepoint") {
        return (...args: unknown[]) => {
          const cb = args.pop() as (tx: Sql) => unknown;
          const method = (target as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[prop]!.bind(target);
          return guardedTransaction((wrapped) => method(...args, wrapped), cb, guard);
        };
      }
      return Reflect.get(target, prop, receiver);
    },
  });
}

/**
 * `sql` with every `unsafe` query (what Drizzle issues) and every transaction bounded by `ms`.
 * On a timeout, `onTimeout` runs (destroying the quiet sockets) and the caller gets StorageTimeout.
 */
export function guardClient(sql: Sql, ms: number, onTimeout: () => void): Sql {
  return guard_(sql, { ms, onTimeout });
}
