import { ServerError } from "@colyseus/core";
import { z } from "zod";
import { ACTION_TYPES, MemberActionSchema, type MemberAction } from "../domain/actions.ts";
import { DomainError, ErrorCode } from "../domain/errors.ts";
import { type Locale, MAX_TEXT_LENGTH, View } from "../domain/sets.ts";
import { renderError } from "../domain/texts.ts";

/** Join options of the conversation room. */
export const ConversationJoinOptions = z.object({
  conversationId: z.string().min(1).max(100),
  view: z.enum([View.mine, View.team]).default(View.mine),
});
export type ConversationJoinOptions = z.infer<typeof ConversationJoinOptions>;

/** Read requests answered from storage: older messages and status-log pages. */
export const PageRequest = z.object({
  requestId: z.string().min(1).max(100),
  beforeSeq: z.number().int().positive().optional(),
  limit: z.number().int().min(1).max(100).default(50),
});
export type PageRequest = z.infer<typeof PageRequest>;

export const QueryType = { history: "history", log: "log" } as const;

/** The answer to every action and query; `message` is in the member's locale. */
export type Answer =
  | { requestId: string | null; ok: true; duplicate?: boolean; seq?: number; [k: string]: unknown }
  | { requestId: string | null; ok: false; code: ErrorCode; message: string; issues?: string[] };

export type Parsed = { ok: true; action: MemberAction } | { ok: false; requestId: string | null; code: ErrorCode; issues?: string[] };

function requestIdOf(payload: unknown): string | null {
  if (payload && typeof payload === "object" && "requestId" in payload) {
    const r = (payload as { requestId: unknown }).requestId;
    if (typeof r === "string") return r.slice(0, 100);
  }
  return null;
}

/** Decodes one client message at the edge; after this, code trusts its input. */
export function parseAction(type: string | number, payload: unknown): Parsed {
  const requestId = requestIdOf(payload);
  if (typeof type !== "string" || !(ACTION_TYPES as readonly string[]).includes(type)) {
    return { ok: false, requestId, code: ErrorCode.UNKNOWN_ACTION };
  }
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) {
    return { ok: false, requestId, code: ErrorCode.INVALID_PAYLOAD, issues: ["payload must be an object"] };
  }
  const r = MemberActionSchema.safeParse({ ...payload, type });
  if (!r.success) {
    return {
      ok: false,
      requestId,
      code: ErrorCode.INVALID_PAYLOAD,
      issues: r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`),
    };
  }
  if (r.data.type === "reply" && r.data.text.length > MAX_TEXT_LENGTH) {
    return { ok: false, requestId, code: ErrorCode.TEXT_TOO_LONG, issues: [`text: at most ${MAX_TEXT_LENGTH} characters`] };
  }
  return { ok: true, action: r.data };
}

export { requestIdOf };

/** A join refusal: an HTTP-like status for the SDK, and the stable code first in the message. */
export function joinError(status: 400 | 401 | 403 | 404, code: ErrorCode, locale: Locale = "en"): ServerError {
  return new ServerError(status, `${code}: ${renderError(code, locale)}`);
}

/** Verifies a room token, turning any failure into a 401 join refusal. */
export async function verifyForJoin<T>(verify: () => Promise<T>): Promise<T> {
  try {
    return await verify();
  } catch (e) {
    throw joinError(401, e instanceof DomainError ? e.code : ErrorCode.UNAUTHENTICATED);
  }
}
