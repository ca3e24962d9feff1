/**
 * The shapes the console reads: the typed client's own types (client/types.ts, from the server's
 * definitions and the OpenAPI document), re-exported, not restated. Type-only: importable anywhere.
 */
import type {
  ActionAnswer,
  ListItem as ClientListItem,
  Session as ClientSession,
  components,
  Locale,
  Role,
  SignedInMember,
} from "../../client/index.ts";

export type {
  ActionAnswer,
  AnyAnswer,
  HistoryAnswer,
  Job,
  ListDelta,
  ListReset,
  Locale,
  LogAnswer,
  LogEvent,
  Notice,
  Refusal,
  Role,
  Status,
  TimelineMessage,
  View,
} from "../../client/index.ts";

/** The conversation types of the lists' `type` filter (docs/protocol.md §7.3). */
export type Kind = "regular" | "collaborative";

/**
 * The signed-in member (`/auth/login`'s `member`). The OpenAPI document types `role` and `locale`
 * as plain strings; the server only ever sends the closed sets, narrowed here.
 */
export type Member = Omit<SignedInMember, "role" | "locale"> & { role: Role; locale: Locale };
/** The client's session, with the member narrowed. */
export type Session = Omit<ClientSession, "member"> & { readonly member: Member };

/** A participant as lists and the candidate search give it. */
export type MemberBrief = components["schemas"]["MemberBrief"];
/** A row of the lists (§7.3). */
export type ListItem = ClientListItem;
/** A member who may be added or assigned (`GET /api/v2/conversations/{id}/candidates`, §7.4). */
export type Candidate = components["schemas"]["Candidate"];

/** The one answer to an action (docs/protocol.md §2.3): kept under its old name for the screens. */
export type ActionResult = ActionAnswer;
