import { type ChannelStatus, ChannelStatus as Status } from "./channels.ts";

/**
 * The retry maths of outbound delivery (issue 9, item 5): what comes after a send. Pure — the
 * clock and the random source come in as arguments, so the same inputs give the same step.
 */

/** Stable delivery codes of our own (providers' senders add theirs, e.g. `LINE_*`). */
export const DeliveryCode = {
  /** Transient failures every time, `maxAttempts` times. */
  retriesExhausted: "DELIVERY_RETRIES_EXHAUSTED",
  /** The conversation's channel account no longer exists. */
  channelMissing: "DELIVERY_CHANNEL_MISSING",
  /** No sender is registered for the account's type in this server. */
  channelUnsupported: "DELIVERY_CHANNEL_UNSUPPORTED",
  /** The conversation's customer has no id on the channel to send to. */
  noRecipient: "DELIVERY_NO_RECIPIENT",
  /** The provider reported the message failed after accepting it (status callback). */
  reportedFailed: "DELIVERY_REPORTED_FAILED",
} as const;
export type DeliveryCode = (typeof DeliveryCode)[keyof typeof DeliveryCode];

/** How hard to try: the attempt cap and the backoff's first and largest ceilings. */
export interface RetryPolicy {
  /** Sends in all (the first included); after this many transient failures the message fails. ≥ 1. */
  readonly maxAttempts: number;
  /** The backoff ceiling after the first failure; doubled after each further one. */
  readonly baseMs: number;
  /** The backoff ceiling never grows past this. */
  readonly capMs: number;
}

/** What a send came to (server/channels/types.ts `SendResult`, restated so domain/ stays free of server/). */
export type SendOutcome =
  | { readonly ok: true; readonly providerMessageId?: string }
  | { readonly ok: false; readonly transient: boolean; readonly code: string; readonly reason: string; readonly retryAfterMs?: number };

/** The next step of a message's delivery. */
export type DeliveryStep =
  | { readonly next: "sent"; readonly providerMessageId: string | null }
  | { readonly next: "retry"; readonly atMs: number; readonly code: string; readonly reason: string }
  | { readonly next: "failed"; readonly code: string; readonly reason: string };

/** Before a send: a disabled account holds the message (no attempt is spent); an active one sends. */
export function gate(status: ChannelStatus): "send" | "held" {
  return status === Status.active ? "send" : "held";
}

/**
 * The backoff ceiling after `failures` transient failures (≥ 1): `baseMs · 2^(failures−1)`,
 * capped at `capMs`. Non-decreasing in `failures`.
 */
export function backoffCeilingMs(failures: number, policy: RetryPolicy): number {
  const exp = Math.min(Math.max(0, failures - 1), 52); // 2^52 is already past any cap
  return Math.min(policy.capMs, policy.baseMs * 2 ** exp);
}

/**
 * The step after a send, given how many attempts were made before it (`priorAttempts`).
 * Accepted → `sent`. Refused for good → `failed` with the provider's code. A transient failure →
 * `retry` after a full-jitter delay (uniform in [0, ceiling), `random()` in [0, 1)), never earlier
 * than the provider's `Retry-After`; or, when this was attempt `maxAttempts`,
 * `failed` `DELIVERY_RETRIES_EXHAUSTED` with the last failure as its reason.
 */
export function stepAfterSend(
  outcome: SendOutcome,
  priorAttempts: number,
  nowMs: number,
  policy: RetryPolicy,
  random: () => number,
): DeliveryStep {
  if (outcome.ok) return { next: "sent", providerMessageId: outcome.providerMessageId ?? null };
  if (!outcome.transient) return { next: "failed", code: outcome.code, reason: outcome.reason };
  const failures = priorAttempts + 1;
  if (failures >= policy.maxAttempts) {
    return { next: "failed", code: DeliveryCode.retriesExhausted, reason: `${outcome.code}: ${outcome.reason}` };
  }
  const r = Math.min(Math.max(random(), 0), 1);
  const jitter = Math.floor(r * backoffCeilingMs(failures, policy));
  const delay = Math.max(jitter, outcome.retryAfterMs ?? 0);
  return { next: "retry", atMs: nowMs + delay, code: outcome.code, reason: outcome.reason };
}
