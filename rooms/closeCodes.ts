/** Close codes of the conversation, inbox and team rooms; see docs/protocol.md §4. */
export const CloseCode = {
  removed: 4101,
  left: 4102,
  closed: 4103,
  deactivated: 4104,
  noLongerParticipant: 4105,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];
