import type { DeviceRow } from "../../db/devices.ts";
import type { DeviceKind, PushPayload } from "../../domain/push.ts";

/**
 * One way of reaching devices (Web Push, FCM, APNs). The worker (server/push/worker.ts) picks the sender
 * by the device's kind; every sender's endpoints are configurable so tests run against local fakes.
 */
export interface PushSender {
  readonly kind: DeviceKind;
  send(device: DeviceRow, payload: PushPayload): Promise<PushResult>;
  /** Lets go of kept connections (APNs' HTTP/2 connection), when the worker stops. */
  close?(): void;
}

export type PushResult =
  | { readonly ok: true }
  /**
   * `gone`: the service says the device no longer exists (404 / 410, FCM `UNREGISTERED`): it is
   * removed. `transient`: worth trying again later (429, 5xx, a network error or timeout).
   * Otherwise a permanent refusal of this push (logged, not retried).
   */
  | { readonly ok: false; readonly gone: boolean; readonly transient: boolean; readonly status: number; readonly reason: string };

/** A push service's answer to one send, mapped the same way for every sender. */
export function resultOfStatus(status: number, reason: string): PushResult {
  if (status >= 200 && status < 300) return { ok: true };
  const gone = status === 404 || status === 410;
  const transient = status === 429 || status >= 500 || status === 408;
  return { ok: false, gone, transient, status, reason };
}

/** A send that never got an answer (connection refused, timeout): transient. */
export function networkFailure(err: unknown): PushResult {
  return { ok: false, gone: false, transient: true, status: 0, reason: err instanceof Error ? err.message : String(err) };
}

/** How long one send may take. */
export const SEND_TIMEOUT_MS = 10_000;
