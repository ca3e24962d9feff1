/**
 * The typed client of the collaborative inbox (docs/protocol.md §0). Browser-safe: no Node
 * imports; everything of the server is imported as types only, or from pure constant modules.
 */
export {
  type BulkBody,
  type BulkKind,
  type ClientOptions,
  InboxClient,
  type MemberChange,
  type NewMember,
  type Session,
  type SettingsChange,
  unwrap,
} from "./client.ts";
export * from "./codes.ts";
export {
  type ConversationEvents,
  type ConversationOptions,
  ConversationView,
  newRequestId,
  STATE_MESSAGE_WINDOW,
  type TimelineMessage,
} from "./conversation.ts";
export { ApiError, ClosedError, JoinError } from "./errors.ts";
export { type InboxEvents, InboxView } from "./inbox.ts";
export type { LinkEvents } from "./link.ts";
export { applyListDelta, compareListItems, fitsTab, type ListQuery, type LoadedPage } from "./lists.ts";
export { TeamView } from "./team.ts";
export type * from "./types.ts";
