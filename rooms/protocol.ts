import { ServerError } from "@colyseus/core";
import { z } from "zod";
import { isStorageUnavailable } from "../db/errors.ts";
import { ACTION_TYPES, MemberActionSchema, type MemberAction, isTextTooLong } from "../domain/actions.ts";
import { DomainError, ErrorCode } from "../domain/errors.ts";
import { Locale, MAX_TEXT_LENGTH, View } from "../domain/sets.ts";
import { UNSTORABLE_TEXT_ISSUE, storableString, unstorablePaths } from "../domain/text.ts";
import { renderError } from "../domain/texts.ts";

/** The longest `requestId` accepted (docs/protocol.md §2.3, §6). */
export const MAX_REQUEST_ID_LENGTH = 100;

/**
 * The largest `seq` there can be: `seq`, `last_seq` and `last_read_seq` are PostgreSQL `integer`
 * columns (db/schema.ts). A `beforeSeq` above it is refused at the edge instead of failing in SQL.
 */
export const MAX_SEQ = 2_147_483_647;

/**
 * Room-message bytes beyond the text itself: the frame header, the message type, the MessagePack
 * map with `requestId` (up to 100 characters at up to 4 bytes each) and field names. A whole
 * `add_collaborators` (10 ids of 100 characters at 4 bytes) is 4,000 bytes, so 4 KiB covers any
 * valid message's envelope.
 */
export const ENVELOPE_BYTES = 4096;

/**
 * The WebSocket transport's `maxPayload`: the longest text (MAX_TEXT_LENGTH characters, up to 4
 * UTF-8 bytes each) plus the envelope, so every valid room message fits. A bigger frame is closed
 * by the transport with 1009 ("message too big") before any room sees it (docs/protocol.md §2.6).
 */
export const MAX_FRAME_BYTES = MAX_TEXT_LENGTH * 4 + ENVELOPE_BYTES;

/** Join options of the conversation room. */
export const ConversationJoinOptions = z.object({
  conversationId: storableString().min(1).max(100),
  view: z.enum([View.mine, View.team]).default(View.mine),
});
export type ConversationJoinOptions = z.infer<typeof ConversationJoinOptions>;

const requestId = z.string().min(1).max(MAX_REQUEST_ID_LENGTH);

/** Read requests answered from storage: older messages and status-log pages. */
export const PageRequest = z.object({
  requestId,
  beforeSeq: z.number().int().positive().max(MAX_SEQ).optional(),
  limit: z.number().int().min(1).max(100).default(50),
});
export type PageRequest = z.infer<typeof PageRequest>;

export { QueryType } from "../domain/wire.ts";

/** The answer to every action and query; `message` is in the member's locale. */
export type Answer =
  | { requestId: string | null; ok: true; duplicate?: boolean; seq?: number; [k: string]: unknown }
  | { requestId: string | null; ok: false; code: ErrorCode; message: string; issues?: string[]; retryAfterMs?: number };

/** An input refused at the edge: the code to answer with, and for input errors what was wrong. */
export interface Refused {
  ok: false;
  requestId: string | null;
  code: ErrorCode;
  issues?: string[];
}

export type Parsed = { ok: true; action: MemberAction } | Refused;
export type ParsedPage = { ok: true; page: PageRequest } | Refused;

/**
 * The request id an answer echoes: the payload's `requestId` when it is a string, whole (a
 * too-long one is echoed in full, then refused), else `null` (no payload, not an object, a
 * `requestId` of another type). Documented in docs/protocol.md §2.3.
 */
export function requestIdOf(payload: unknown): string | null {
  if (payload && typeof payload === "object" && !Array.isArray(payload) && "requestId" in payload) {
    const r = (payload as { requestId: unknown }).requestId;
    if (typeof r === "string") return r;
  }
  return null;
}

function issuesOf(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
}

/**
 * How deep a payload may nest. Valid messages are two levels deep (`memberIds`); the bound keeps a
 * pathological payload (thousands of nested arrays fit in a frame) from exhausting the stack of
 * the recursive walks after it.
 */
export const MAX_PAYLOAD_DEPTH = 16;

/** True when `value` nests objects or arrays more than `max` levels deep (iterative: no recursion). */
function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (depth >= max) return true;
    for (const item of Object.values(v)) stack.push([item, depth + 1]);
  }
  return false;
}

/**
 * The checks every room message passes before its own schema: an object payload, and no string in
 * it (keys included) that storage could not keep (NUL, lone surrogates: refused, never stripped).
 */
function precheck(payload: unknown): Refused | null {
  const requestId = requestIdOf(payload);
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) {
    return { ok: false, requestId, code: ErrorCode.INVALID_PAYLOAD, issues: ["(root): payload must be an object"] };
  }
  if (nestedDeeperThan(payload, MAX_PAYLOAD_DEPTH)) {
    return { ok: false, requestId, code: ErrorCode.INVALID_PAYLOAD, issues: [`(root): nested deeper than ${MAX_PAYLOAD_DEPTH} levels`] };
  }
  const bad = unstorablePaths(payload);
  if (bad.length) {
    return { ok: false, requestId, code: ErrorCode.INVALID_PAYLOAD, issues: bad.map((p) => `${p}: ${UNSTORABLE_TEXT_ISSUE}`) };
  }
  return null;
}

/** Decodes one client action at the edge; after this, code trusts its input. */
export function parseAction(type: string | number, payload: unknown): Parsed {
  const requestId = requestIdOf(payload);
  if (typeof type !== "string" || !(ACTION_TYPES as readonly string[]).includes(type)) {
    return { ok: false, requestId, code: ErrorCode.UNKNOWN_ACTION };
  }
  const refused = precheck(payload);
  if (refused) return refused;
  const r = MemberActionSchema.safeParse({ ...(payload as object), type });
  if (!r.success) return { ok: false, requestId, code: ErrorCode.INVALID_PAYLOAD, issues: issuesOf(r.error) };
  if (r.data.type === "reply" && isTextTooLong(r.data.text)) {
    return { ok: false, requestId, code: ErrorCode.TEXT_TOO_LONG, issues: [`text: at most ${MAX_TEXT_LENGTH} characters`] };
  }
  return { ok: true, action: r.data };
}

/** Decodes a `history` or `log` request at the edge. */
export function parsePage(payload: unknown): ParsedPage {
  const refused = precheck(payload);
  if (refused) return refused;
  const r = PageRequest.safeParse(payload);
  if (!r.success) return { ok: false, requestId: requestIdOf(payload), code: ErrorCode.INVALID_PAYLOAD, issues: issuesOf(r.error) };
  return { ok: true, page: r.data };
}

/** `catch_up`: every timeline entry (messages and status-log lines) after `afterSeq`, in pages (docs/protocol.md §2.7). */
export const CatchUpRequest = z.object({
  requestId,
  afterSeq: z.number().int().min(0).max(MAX_SEQ),
  limit: z.number().int().min(1).max(200).default(100),
});
export type CatchUpRequest = z.infer<typeof CatchUpRequest>;

/** Decodes a `catch_up` request at the edge. */
export function parseCatchUp(payload: unknown): { ok: true; request: CatchUpRequest } | Refused {
  const refused = precheck(payload);
  if (refused) return refused;
  const r = CatchUpRequest.safeParse(payload);
  if (!r.success) return { ok: false, requestId: requestIdOf(payload), code: ErrorCode.INVALID_PAYLOAD, issues: issuesOf(r.error) };
  return { ok: true, request: r.data };
}

/** A join refusal: an HTTP-like status for the SDK, and the stable code first in the message. */
export function joinError(status: 400 | 401 | 403 | 404 | 500 | 503, code: ErrorCode, locale: Locale = "en"): ServerError {
  return new ServerError(status, `${code}: ${renderError(code, locale)}`);
}

/**
 * A join step's unexpected failure as a join refusal that carries no SQL or stack text: a refusal
 * already made (ServerError) as is, storage down or slow → 503 `STORAGE_UNAVAILABLE`, anything
 * else → 500 `INTERNAL` (the caller logs the error itself).
 */
export function joinFailure(e: unknown, locale: Locale = "en"): ServerError {
  if (e instanceof ServerError) return e;
  return isStorageUnavailable(e) ? joinError(503, ErrorCode.STORAGE_UNAVAILABLE, locale) : joinError(500, ErrorCode.INTERNAL, locale);
}

/**
 * Verifies a room token: a refused token is a 401 join refusal with its code; a storage failure
 * while checking it is not the client's fault and answers as `joinFailure` says.
 */
export async function verifyForJoin<T>(verify: () => Promise<T>): Promise<T> {
  try {
    return await verify();
  } catch (e) {
    if (e instanceof DomainError) throw joinError(401, e.code);
    if (isStorageUnavailable(e)) throw joinFailure(e);
    throw joinError(401, ErrorCode.UNAUTHENTICATED);
  }
}

/**
 * The answer of a room that takes no actions (the `inbox` and `team` rooms) to any message: one
 * `UNKNOWN_ACTION` refusal carrying the request id the message had, if any, so a client waiting on
 * it is answered instead of waiting forever.
 */
export function readOnlyRefusal(payload: unknown, locale: Locale): Answer {
  return { requestId: requestIdOf(payload), ok: false, code: ErrorCode.UNKNOWN_ACTION, message: renderError(ErrorCode.UNKNOWN_ACTION, locale) };
}

/** Join options of the Webchat visitor's room (docs/protocol.md §7.15). */
export const WebchatJoinOptions = z.object({
  visitorId: storableString().min(1).max(100),
  locale: z.enum([Locale.zhTW, Locale.en]).default(Locale.zhTW),
});

/** A Webchat visitor's `say` message. */
const VisitorSay = z.object({ requestId, text: storableString().trim().min(1) });
export type ParsedSay = { ok: true; say: z.infer<typeof VisitorSay> } | Refused;

/** Decodes a visitor's `say` at the edge: the same checks as a staff reply's text. */
export function parseSay(payload: unknown): ParsedSay {
  const refused = precheck(payload);
  if (refused) return refused;
  const r = VisitorSay.safeParse(payload);
  if (!r.success) return { ok: false, requestId: requestIdOf(payload), code: ErrorCode.INVALID_PAYLOAD, issues: issuesOf(r.error) };
  if (isTextTooLong(r.data.text)) return { ok: false, requestId: r.data.requestId, code: ErrorCode.TEXT_TOO_LONG, issues: [`text: at most ${MAX_TEXT_LENGTH} characters`] };
  return { ok: true, say: r.data };
}
