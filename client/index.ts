/**
 * The typed client of the collaborative inbox (docs/protocol.md §0). Browser-safe: no Node
 * imports; everything of the server is imported as types only, or from pure constant modules.
 */
export {
  InboxClient,
  type BulkBody,
  type BulkKind,
  type ClientOptions,
  type MemberChange,
  type NewMember,
  type Session,
  type SettingsChange,
  unwrap,
} from "./client.ts";
export {
  ConversationView,
  type ConversationEvents,
  type ConversationOptions,
  type TimelineMessage,
  STATE_MESSAGE_WINDOW,
  newRequestId,
} from "./conversation.ts";
export { InboxView, type InboxEvents } from "./inbox.ts";
export { TeamView } from "./team.ts";
export type { LinkEvents } from "./link.ts";
export { ApiError, ClosedError, JoinError } from "./errors.ts";
export { applyListDelta, compareListItems, fitsTab, type ListQuery, type LoadedPage } from "./lists.ts";
export * from "./codes.ts";
export type * from "./types.ts";
