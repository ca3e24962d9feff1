import type { ErrorCode } from "../domain/errors.ts";

/** An HTTP answer that was not 2xx: its status and the stable code of its body (docs/protocol.md §5). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode | "UNKNOWN",
    message: string,
    readonly body: unknown,
  ) {
    super(`${status} ${code}: ${message}`);
    this.name = "ApiError";
  }
}

/** A room join the server refused (docs/protocol.md §2.1): the SDK's number and the stable code from its message. */
export class JoinError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode | "UNKNOWN",
    message: string,
  ) {
    super(message);
    this.name = "JoinError";
  }

  /** Reads the SDK's join rejection: `code` a number, `message` `"<CODE>: text"`. */
  static from(e: unknown): JoinError {
    const status = typeof (e as { code?: unknown })?.code === "number" ? (e as { code: number }).code : 0;
    const message = e instanceof Error ? e.message : String(e);
    const m = /^([A-Z_]+):/.exec(message);
    return new JoinError(status, (m?.[1] as ErrorCode | undefined) ?? "UNKNOWN", message);
  }

  /** Worth trying again: the service or storage is down for now, a seat expired, or the network failed. */
  get transient(): boolean {
    return (
      this.status === 0 ||
      this.status >= 500 ||
      this.code === "STORAGE_UNAVAILABLE" ||
      this.code === "SERVICE_UNAVAILABLE" ||
      /seat reservation expired|ECONNREFUSED|fetch failed|network/i.test(this.message)
    );
  }
}

/** A view the server closed for good (4101–4105), or that the client left: pending requests reject with it. */
export class ClosedError extends Error {
  constructor(
    readonly closeCode: number,
    readonly reason: string | undefined,
  ) {
    super(`connection closed (${closeCode}${reason ? ` ${reason}` : ""})`);
    this.name = "ClosedError";
  }
}
