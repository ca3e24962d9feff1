import { ArraySchema, MapSchema, Schema, type, view } from "@colyseus/schema";

/** A member as the conversation shows them. */
export class MemberRef extends Schema {
  @type("string") id = "";
  @type("string") name = "";
  @type("string") role = "";
}

export class CustomerRef extends Schema {
  @type("string") id = "";
  @type("string") name = "";
}

/** One timeline entry: a customer message, a staff reply or a system message. */
export class MessageItem extends Schema {
  @type("number") seq = 0;
  /** "customer" | "staff" | "system" */
  @type("string") sender = "";
  @type("string") senderId = "";
  @type("string") senderName = "";
  /** The text of a customer or staff message; empty for system messages. */
  @type("string") body = "";
  /** For system messages: "members_joined" | "members_left" | "followed". */
  @type("string") systemKind = "";
  /** For system messages: the rendered text by locale ("zh-TW", "en"). */
  @type({ map: "string" }) texts = new MapSchema<string>();
  /** Milliseconds since the epoch. */
  @type("number") createdAt = 0;
  /**
   * Staff messages to a customer on a channel that delivers: "queued" | "held" | "sent" |
   * "delivered" | "read" | "failed" (forward only); "" for every other message.
   */
  @type("string") delivery = "";
  /** With "failed": a stable code (docs/protocol.md, channels); "" otherwise. */
  @type("string") deliveryCode = "";
  /** With "failed": the provider's reason as it gave it; "" otherwise. */
  @type("string") deliveryReason = "";
  /** A customer message's typed parts as JSON (docs/protocol.md §7.10), `body` their text fallback; "" for plain text. */
  @type("string") parts = "";
}

/** What only one member sees: their own unread count and pin (R11.6). */
export class MemberView extends Schema {
  @type("string") memberId = "";
  @type("number") unreadCount = 0;
  @type("number") lastReadSeq = 0;
  @type("boolean") pinned = false;
}

/** The conversation's newest satisfaction survey (R8.2, docs/protocol.md §7.18); all zero / empty before one is sent. */
export class CsatView extends Schema {
  /** The survey's id; "" when none was sent. */
  @type("string") surveyId = "";
  /** Milliseconds since the epoch: when the survey was created (its link sent). */
  @type("number") sentAt = 0;
  /** 1–5 once answered; 0 before. */
  @type("number") score = 0;
  /** The customer's comment; "" when none. */
  @type("string") comment = "";
  /** Milliseconds since the epoch; 0 until answered. */
  @type("number") answeredAt = 0;
  /** Milliseconds since the epoch: the link works until then. */
  @type("number") expiresAt = 0;
}

export class ConversationState extends Schema {
  @type("string") id = "";
  /** "pending" | "in_progress" | "closed" */
  @type("string") status = "";
  /** "direct" | "group" */
  @type("string") kind = "";
  @type("string") channel = "";
  /** True when the conversation has at least one collaborator. */
  @type("boolean") collaborative = false;
  @type(CustomerRef) customer = new CustomerRef();
  /** Absent when the conversation has no follower. */
  @type(MemberRef) follower?: MemberRef;
  /** In list order (R14.5). */
  @type([MemberRef]) collaborators = new ArraySchema<MemberRef>();
  /** The newest messages, oldest first; older pages by request. */
  @type([MessageItem]) messages = new ArraySchema<MessageItem>();
  @type("number") lastSeq = 0;
  @type("number") version = 0;
  /** The newest satisfaction survey (R8.2). */
  @type(CsatView) csat = new CsatView();
  /** Keyed by member id; each client's view holds its own entry only. */
  @view() @type({ map: MemberView }) me = new MapSchema<MemberView>();
}

/** One answered satisfaction survey as the team room lists it (R8.2, docs/protocol.md §9). */
export class CsatItem extends Schema {
  @type("string") surveyId = "";
  @type("string") conversationId = "";
  @type("string") customerName = "";
  /** The conversation's follower now; "" when nobody follows. */
  @type("string") followerId = "";
  /** 1–5. */
  @type("number") score = 0;
  @type("string") comment = "";
  /** Milliseconds since the epoch. */
  @type("number") answeredAt = 0;
}
