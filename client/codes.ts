/**
 * The stable codes and closed sets of the protocol, re-exported from where the server defines them
 * (one source: a code added on the server is a code here). Every module imported here is pure (no
 * imports of its own beyond other pure sets), so a browser bundle takes them as they are.
 */
export { ERROR_CODES, ErrorCode } from "../domain/errors.ts";
export { CloseCode, CloseReason } from "../rooms/closeCodes.ts";
export {
  CHANNELS,
  Channel,
  ConversationKind,
  LOCALES,
  Locale,
  MANAGERS,
  MAX_COLLABORATORS,
  MAX_TEXT_LENGTH,
  MemberStatus,
  ROLES,
  Role,
  STATUSES,
  Status,
  TEAM_VIEWERS,
  View,
} from "../domain/sets.ts";
export { ACTION_TYPES, ActionType, QueryType, SERVER_MESSAGES, ServerMessage } from "../domain/wire.ts";

import { CloseCode } from "../rooms/closeCodes.ts";

/**
 * Close codes after which the view is over for good (docs/protocol.md §2.6): the client does not
 * rejoin. Every other close (1006, 4001, 4003, 4106, …) is a loss the client recovers from.
 */
export const FINAL_CLOSE_CODES: ReadonlySet<number> = new Set([
  CloseCode.removed,
  CloseCode.left,
  CloseCode.closed,
  CloseCode.deactivated,
  CloseCode.noLongerParticipant,
]);

/** A consented leave (`room.leave()`): 1000 from the transport, 4000 from Colyseus. */
export const CONSENTED_CLOSE_CODES: ReadonlySet<number> = new Set([1000, 4000]);
