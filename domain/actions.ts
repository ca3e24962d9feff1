import { z } from "zod";
import { MAX_TEXT_LENGTH } from "./sets.ts";
import type { MessagePart } from "./channels.ts";
import type { TriggeredPayload } from "./triggered.ts";

/**
 * The actions a member sends to a conversation room, parsed at the edge.
 * Each message is `{ requestId, type, ...payload }`; `requestId` makes a retry apply once.
 */
const requestId = z.string().min(1).max(100);
const memberId = z.string().min(1).max(100);
const text = z.string().trim().min(1);

export { ActionType, ACTION_TYPES } from "./wire.ts";

export const MemberActionSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("reply"), requestId, text }),
  z.object({ type: z.literal("add_collaborators"), requestId, memberIds: z.array(memberId).min(1).max(10) }),
  z.object({ type: z.literal("remove_collaborators"), requestId, memberIds: z.array(memberId).min(1).max(10) }),
  z.object({ type: z.literal("join"), requestId }),
  z.object({ type: z.literal("leave"), requestId }),
  z.object({ type: z.literal("take_over"), requestId }),
  z.object({ type: z.literal("transfer"), requestId, memberId }),
  z.object({ type: z.literal("close"), requestId }),
  z.object({ type: z.literal("reopen"), requestId }),
  z.object({ type: z.literal("pin"), requestId }),
  z.object({ type: z.literal("unpin"), requestId }),
  z.object({ type: z.literal("mark_read"), requestId }),
]);
export type MemberAction = z.infer<typeof MemberActionSchema>;

/** Actions that reach a room from the server side (webhooks, administration), never from a client. */
export type ServerAction =
  | { type: "customer_message"; requestId: string; text: string; parts?: readonly MessagePart[] }
  | { type: "member_departed"; requestId: string; memberId: string }
  /** R13.4, from the scheduler: the auto-close reminder is due (sent on channels that have it). */
  | { type: "auto_close_remind"; requestId: string }
  /** R13.4, from the scheduler: the auto-close is due. */
  | { type: "auto_close"; requestId: string }
  /** R13.2, over HTTP: an OMO binding success / additional message to the customer (never on a collaborative conversation). */
  | { type: "omo_binding"; requestId: string; kind: "success" | "additional"; text: string }
  /** R8.2, R13.1, from the survey worker (server/csat.ts): the survey link to the customer, an automatic message. */
  | { type: "send_csat"; requestId: string; text: string }
  /** R13.1, from `POST /api/v2/conversations/{id}/triggered`: a member sends a triggered message. */
  | { type: "triggered"; requestId: string; payload: TriggeredPayload };

export type Action = MemberAction | ServerAction;

export { MAX_TEXT_LENGTH };

/**
 * The length of a text as the limits count it: in Unicode code points, not UTF-16 units, so the
 * 4,000-character limit (MAX_TEXT_LENGTH) means 4,000 characters in any script: an emoji or a CJK
 * extension-B character (two UTF-16 units, four UTF-8 bytes) counts once, like "a" or "你".
 */
export function textLength(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // A high surrogate followed by a low one is one code point; a lone half counts as one.
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/** True when `text` is longer than MAX_TEXT_LENGTH code points (answer TEXT_TOO_LONG). */
export function isTextTooLong(text: string): boolean {
  // Cheap exits: fewer UTF-16 units than the limit cannot be more code points, and more than twice
  // the limit in units is more than the limit in code points.
  if (text.length <= MAX_TEXT_LENGTH) return false;
  if (text.length > MAX_TEXT_LENGTH * 2) return true;
  return textLength(text) > MAX_TEXT_LENGTH;
}
