import type { Context, MiddlewareHandler } from "hono";
import { LimitName } from "../rateLimit.ts";
import type { AppDeps, AppEnv } from "./env.ts";
import { RateLimited } from "./errors.ts";

/**
 * The HTTP rate limits (server/rateLimit.ts holds the counts): sign-ins per account and per
 * address, webhooks per channel account. A refusal is 429 `RATE_LIMITED` with `Retry-After`,
 * logged, counted in `/metrics`, and changes nothing.
 */

/**
 * Webhook and Webchat requests per channel account (the `:channelId` of the path), counted before
 * the account is even loaded, so a flood on one channel costs no database read past its limit and
 * leaves the other channels alone. Also counts refused requests (any 4xx) in `/metrics` by provider.
 */
export function webhookLimit(deps: AppDeps, provider?: string): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const channelId = c.req.param("channelId");
    const name = provider ?? c.req.param("provider") ?? "unknown";
    if (channelId) {
      const verdict = await deps.limits.take(LimitName.webhook, channelId);
      if (!verdict.ok) {
        deps.metrics.limited(LimitName.webhook);
        deps.metrics.webhook(name, "refused");
        c.get("log")?.warn({ limit: LimitName.webhook, channelId, provider: name }, "webhook rate limited");
        throw new RateLimited(LimitName.webhook, verdict.retryAfterMs);
      }
    }
    await next();
    // A refusal thrown by the route is already the answer (onError) when `next` returns.
    if (c.res.status >= 400 && c.res.status < 500) deps.metrics.webhook(name, "refused");
  };
}

/**
 * Wraps one sign-in attempt: a point is taken from the account's and the address's budget before
 * the password is checked (so parallel guesses are counted too), and given back unless the
 * password was wrong. In-process calls (no socket, tests) have no address: only the account counts.
 */
export async function limitLogin<T>(
  deps: AppDeps,
  c: Context<AppEnv>,
  email: string,
  attempt: () => Promise<T>,
  isFailure: (err: unknown) => boolean,
): Promise<T> {
  const account = email.trim().toLowerCase();
  const address = c.get("address");
  const log = c.get("log") ?? deps.log;
  // A refused sign-in never ran: its points are given back, so only attempts that ran (and failed)
  // count. Otherwise correct sign-ins racing one another past the limit would lock the account.
  const byAccount = await deps.limits.take(LimitName.loginAccount, account);
  if (!byAccount.ok) {
    await deps.limits.give(LimitName.loginAccount, account);
    return refuse(LimitName.loginAccount, byAccount.retryAfterMs);
  }
  if (address) {
    const byAddress = await deps.limits.take(LimitName.loginAddress, address);
    if (!byAddress.ok) {
      await deps.limits.give(LimitName.loginAccount, account);
      await deps.limits.give(LimitName.loginAddress, address);
      return refuse(LimitName.loginAddress, byAddress.retryAfterMs);
    }
  }
  const giveBack = async () => {
    await deps.limits.give(LimitName.loginAccount, account);
    if (address) await deps.limits.give(LimitName.loginAddress, address);
  };
  let result: T;
  try {
    result = await attempt();
  } catch (err) {
    if (isFailure(err)) log.info({ account, address }, "sign-in failed: wrong email or password");
    else await giveBack();
    throw err;
  }
  await giveBack();
  return result;

  function refuse(limit: string, retryAfterMs: number): never {
    deps.metrics.limited(limit);
    log.warn({ limit, account, address, retryAfterMs }, "sign-in rate limited");
    throw new RateLimited(limit, retryAfterMs);
  }
}
