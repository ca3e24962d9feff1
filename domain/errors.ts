/**
 * Every refusal the server can answer with. Codes are stable: clients switch on them.
 * The human text for each code lives in `texts.ts` (zh-TW and en).
 */
export const ErrorCode = {
  // input
  INVALID_PAYLOAD: "INVALID_PAYLOAD",
  UNKNOWN_ACTION: "UNKNOWN_ACTION",
  TEXT_TOO_LONG: "TEXT_TOO_LONG",
  // auth and access
  UNAUTHENTICATED: "UNAUTHENTICATED",
  TOKEN_EXPIRED: "TOKEN_EXPIRED",
  INVALID_CREDENTIALS: "INVALID_CREDENTIALS",
  MEMBER_INACTIVE: "MEMBER_INACTIVE",
  VIEW_NOT_ALLOWED: "VIEW_NOT_ALLOWED",
  NOT_FOUND: "NOT_FOUND",
  // rules
  CONVERSATION_CLOSED: "CONVERSATION_CLOSED",
  REPLY_NOT_ALLOWED: "REPLY_NOT_ALLOWED",
  MANAGE_NOT_ALLOWED: "MANAGE_NOT_ALLOWED",
  COLLABORATOR_LIMIT: "COLLABORATOR_LIMIT",
  TARGET_NOT_FOUND: "TARGET_NOT_FOUND",
  TARGET_INACTIVE: "TARGET_INACTIVE",
  ALREADY_PARTICIPANT: "ALREADY_PARTICIPANT",
  NOT_A_COLLABORATOR: "NOT_A_COLLABORATOR",
  JOIN_NOT_ALLOWED: "JOIN_NOT_ALLOWED",
  NO_FOLLOWER: "NO_FOLLOWER",
  FOLLOWER_CANNOT_LEAVE: "FOLLOWER_CANNOT_LEAVE",
  TAKE_OVER_NOT_ALLOWED: "TAKE_OVER_NOT_ALLOWED",
  TRANSFER_NOT_ALLOWED: "TRANSFER_NOT_ALLOWED",
  TRANSFER_TARGET_NOT_COLLABORATOR: "TRANSFER_TARGET_NOT_COLLABORATOR",
  COLLABORATOR_CANNOT_CLOSE: "COLLABORATOR_CANNOT_CLOSE",
  CLOSE_NOT_ALLOWED: "CLOSE_NOT_ALLOWED",
  ALREADY_CLOSED: "ALREADY_CLOSED",
  NOT_CLOSED: "NOT_CLOSED",
  REOPEN_NOT_ALLOWED: "REOPEN_NOT_ALLOWED",
  PIN_NOT_ALLOWED: "PIN_NOT_ALLOWED",
  BULK_TRANSFER_COLLABORATIVE: "BULK_TRANSFER_COLLABORATIVE",
  LEGACY_COLLABORATIVE: "LEGACY_COLLABORATIVE",
  // infrastructure
  VERSION_CONFLICT: "VERSION_CONFLICT",
  STORAGE_UNAVAILABLE: "STORAGE_UNAVAILABLE",
  RATE_LIMITED: "RATE_LIMITED",
  INTERNAL: "INTERNAL",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
export const ERROR_CODES = Object.values(ErrorCode) as readonly ErrorCode[];

/** A refusal decided by the rules. Carries a stable code; the text is rendered per locale. */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly detail?: Record<string, unknown>,
  ) {
    super(code);
    this.name = "DomainError";
  }
}

export function isDomainError(e: unknown): e is DomainError {
  return e instanceof DomainError;
}
