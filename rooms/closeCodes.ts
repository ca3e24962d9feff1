/** Close codes of the conversation, inbox and team rooms; see docs/protocol.md §4. */
export const CloseCode = {
  removed: 4101,
  left: 4102,
  closed: 4103,
  deactivated: 4104,
  noLongerParticipant: 4105,
  /**
   * The server is stopping (a deploy, a scale-down): the room's queued actions were answered, the
   * connection closes so the client rejoins, on another process or this one restarted, and
   * catches up (docs/protocol.md §2.8). Not an error.
   */
  restarting: 4106,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** The reasons the rooms close a connection with (the SDK's `onLeave(code, reason)`); see docs/protocol.md §2.6. */
export const CloseReason = {
  removed: "removed",
  left: "left",
  closed: "closed",
  deactivated: "deactivated",
  noLongerParticipant: "no_longer_participant",
  viewNotAllowed: "view_not_allowed",
  serverRestarting: "server_restarting",
} as const;
export type CloseReason = (typeof CloseReason)[keyof typeof CloseReason];
