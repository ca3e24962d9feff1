import type { Presence } from "@colyseus/core";
import { raceDeadline } from "../db/deadline.ts";
import { isStorageUnavailable } from "../db/errors.ts";
import { DomainError, ErrorCode, isDomainError } from "../domain/errors.ts";

/**
 * Deadlines for calls to the presence (Redis when `REDIS_URL` is set) and to rooms. ioredis queues
 * commands while Redis is unreachable, so without a deadline an HTTP request waits for as long as
 * the outage lasts; with one it answers 503 SERVICE_UNAVAILABLE.
 */

/** How long one presence or matchmaker call may take before the service counts as down. */
export const SERVICE_DEADLINE_MS = 3000;

/** Thrown when a presence, matchmaker or room call did not finish in time. */
export class ServiceTimeout extends Error {
  constructor(
    readonly what: string,
    readonly ms: number,
  ) {
    super(`${what} did not finish within ${ms} ms`);
    this.name = "ServiceTimeout";
  }
}

/** `work`, or a `ServiceTimeout` after `ms`. */
export function withServiceDeadline<T>(work: PromiseLike<T>, what: string, ms = SERVICE_DEADLINE_MS): Promise<T> {
  return raceDeadline(work, ms, () => new ServiceTimeout(what, ms));
}

/**
 * A failure of the presence or of a room call as the caller should see it: domain refusals and
 * storage failures as they are (they carry their own code), everything else as
 * SERVICE_UNAVAILABLE, keeping the original as `cause` for the log.
 */
export function asServiceFailure(err: unknown): unknown {
  if (isDomainError(err) || isStorageUnavailable(err)) return err;
  const wrapped = new DomainError(ErrorCode.SERVICE_UNAVAILABLE);
  (wrapped as { cause?: unknown }).cause = err;
  return wrapped;
}

/**
 * The presence with every asynchronous method bounded by `ms` and every failure answered as
 * SERVICE_UNAVAILABLE: what HTTP routes get, so a Redis outage is a 503, never a hang or a 500.
 */
export function boundedPresence(presence: Presence, ms = SERVICE_DEADLINE_MS): Presence {
  return new Proxy(presence, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        const out = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (!(out instanceof Promise)) return out;
        return withServiceDeadline(out, `presence.${String(prop)}`, ms).catch((err: unknown) => {
          throw asServiceFailure(err);
        });
      };
    },
  });
}
