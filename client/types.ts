/**
 * The types of what the server sends, taken from where the server defines them (type-only imports:
 * nothing of the server reaches a bundle) or from the OpenAPI document (`openapi.d.ts`).
 */
import type { ErrorCode } from "../domain/errors.ts";
import type { Status, View } from "../domain/sets.ts";
import type { eventJson, messageJson } from "../rooms/render.ts";
import type { components } from "./openapi.d.ts";

export type { ConversationState, CustomerRef, MemberRef, MemberView, MessageItem } from "../rooms/state.ts";
export type { InboxState } from "../rooms/InboxRoom.ts";
export type { MemberLoad, OverdueItem, TeamState } from "../rooms/TeamRoom.ts";
export type { MemberAction } from "../domain/actions.ts";
export type { components, operations, paths } from "./openapi.d.ts";

type Schemas = components["schemas"];

/** `POST /auth/login` and `POST /auth/refresh` (docs/protocol.md §1). */
export type Tokens = Schemas["Tokens"];
/** The signed-in member as `/auth/login` gives it. */
export type SignedInMember = Tokens["member"];
/** A row of the lists (docs/protocol.md §7.3), as HTTP and the `list` deltas carry it. */
export type ListItem = Schemas["ListItem"];
/** An inbox `notice` (docs/protocol.md §3), the same object as `GET /api/v2/notifications` items. */
export type Notice = Schemas["Notification"];
/** A bulk job's progress (`job` message of the inbox room, docs/protocol.md §7.5). */
export type Job = Schemas["Job"];
/** The body of every HTTP error answer. */
export type ErrorBody = Schemas["Error"];

/** A `history` / `catch_up` message (docs/protocol.md §2.7). */
export type HistoryMessage = ReturnType<typeof messageJson>;
/** A `log` / `catch_up` status-log line (docs/protocol.md §2.7). */
export type LogEvent = ReturnType<typeof eventJson>;

/** Where a conversation sits in a view: its tab and type (docs/protocol.md §8.3). */
export interface Placement {
  readonly status: Status;
  readonly type: "regular" | "collaborative";
}

/** A `list` message of the inbox room (docs/protocol.md §8.3). */
export interface ListDelta {
  readonly conversationId: string;
  readonly version: number;
  readonly view: View;
  readonly op: "added" | "moved" | "updated" | "removed";
  readonly from: Placement | null;
  readonly to: Placement | null;
  readonly item: ListItem | null;
}

/** A `list_reset` message: reload the pages of these views (docs/protocol.md §8.3). */
export interface ListReset {
  readonly views: View[];
}

/** A refusal on `result` (docs/protocol.md §2.3). */
export interface Refusal {
  readonly requestId: string | null;
  readonly ok: false;
  readonly code: ErrorCode;
  readonly message: string;
  /** Input errors only: `"path: problem"`. */
  readonly issues?: string[];
  /** `RATE_LIMITED` only: when a retry is decided again. */
  readonly retryAfterMs?: number;
}

/** An accepted action: committed (`seq` = the conversation's `lastSeq` after it), or applied before (`duplicate`). */
export type ActionOk =
  | { readonly requestId: string; readonly ok: true; readonly seq: number; readonly duplicate?: undefined }
  | { readonly requestId: string; readonly ok: true; readonly duplicate: true; readonly seq?: undefined };

/** The one answer to an action. */
export type ActionAnswer = ActionOk | Refusal;

/** `history` answer. */
export type HistoryAnswer = { readonly requestId: string; readonly ok: true; readonly messages: HistoryMessage[] } | Refusal;
/** `log` answer. */
export type LogAnswer = { readonly requestId: string; readonly ok: true; readonly events: LogEvent[] } | Refusal;
/** `catch_up` answer. */
export type CatchUpAnswer =
  | {
      readonly requestId: string;
      readonly ok: true;
      readonly messages: HistoryMessage[];
      readonly events: LogEvent[];
      readonly throughSeq: number;
      readonly more: boolean;
    }
  | Refusal;

/** Any answer on `result`. */
export type AnyAnswer = ActionAnswer | HistoryAnswer | LogAnswer | CatchUpAnswer;
