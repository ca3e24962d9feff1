/**
 * The names that travel on the wire between the rooms and their clients, as pure `as const` sets:
 * no imports, so the typed client (client/, bundled for browsers) and the server share this one
 * source. domain/actions.ts and rooms/protocol.ts re-export them.
 */

/** The actions a member sends to a conversation room (docs/protocol.md §2.4). */
export const ActionType = {
  reply: "reply",
  add_collaborators: "add_collaborators",
  remove_collaborators: "remove_collaborators",
  join: "join",
  leave: "leave",
  take_over: "take_over",
  transfer: "transfer",
  close: "close",
  reopen: "reopen",
  pin: "pin",
  unpin: "unpin",
  mark_read: "mark_read",
} as const;
export type ActionType = (typeof ActionType)[keyof typeof ActionType];
export const ACTION_TYPES = Object.values(ActionType) as readonly ActionType[];

/** The queries of a conversation room (docs/protocol.md §2.7). */
export const QueryType = { history: "history", log: "log", catchUp: "catch_up" } as const;
export type QueryType = (typeof QueryType)[keyof typeof QueryType];

/** The message types the server sends to clients of the conversation, inbox and team rooms (docs/protocol.md §2.3, §3, §8, §9). */
export const ServerMessage = { result: "result", notice: "notice", list: "list", listReset: "list_reset", job: "job" } as const;
export type ServerMessage = (typeof ServerMessage)[keyof typeof ServerMessage];
export const SERVER_MESSAGES = Object.values(ServerMessage) as readonly ServerMessage[];
