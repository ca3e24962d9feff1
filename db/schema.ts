import type { TimerKind } from "../domain/timers.ts";
import { sql } from "drizzle-orm";
import {
  bigserial,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from "drizzle-orm/pg-core";
import type { ChannelStatus, ChannelType, DeliveryStatus, MessagePart } from "../domain/channels.ts";
import type { Effect, LogKind, NoticeKind, SystemKind } from "../domain/events.ts";
import type { JobKind, JobOutcome, JobStatus } from "../domain/jobs.ts";
import type { DeviceKind } from "../domain/push.ts";
import type { WorkspaceSettings } from "../domain/model.ts";
import type { Channel, ConversationKind, Locale, MemberStatus, Role, Status } from "../domain/sets.ts";

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

export const workspaces = pgTable("workspaces", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  settings: jsonb("settings").$type<Partial<WorkspaceSettings>>().notNull(),
  createdAt: ts("created_at").notNull().defaultNow(),
});

export const members = pgTable(
  "members",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    name: text("name").notNull(),
    email: text("email").notNull(),
    phone: text("phone"),
    role: text("role").$type<Role>().notNull(),
    status: text("status").$type<MemberStatus>().notNull().default("active"),
    locale: text("locale").$type<Locale>().notNull().default("zh-TW"),
    passwordHash: text("password_hash").notNull(),
    /** Bumped to revoke every token issued before (deactivation, password change). */
    tokenVersion: integer("token_version").notNull().default(0),
    createdAt: ts("created_at").notNull().defaultNow(),
    updatedAt: ts("updated_at").notNull().defaultNow(),
  },
  (t) => [uniqueIndex("members_email_uq").on(sql`lower(${t.email})`), index("members_workspace_idx").on(t.workspaceId, t.status)],
);

export const refreshTokens = pgTable(
  "refresh_tokens",
  {
    id: text("id").primaryKey(),
    memberId: text("member_id")
      .notNull()
      .references(() => members.id),
    tokenHash: text("token_hash").notNull(),
    expiresAt: ts("expires_at").notNull(),
    revokedAt: ts("revoked_at"),
    createdAt: ts("created_at").notNull().defaultNow(),
  },
  (t) => [uniqueIndex("refresh_tokens_hash_uq").on(t.tokenHash), index("refresh_tokens_member_idx").on(t.memberId)],
);

/** A connected channel account of a workspace; Webchat's carries the secret its server endpoint checks. */
export const channels = pgTable("channels", {
  id: text("id").primaryKey(),
  workspaceId: text("workspace_id")
    .notNull()
    .references(() => workspaces.id),
  /** The account's type (`domain/channels.ts` ChannelType: `messenger` accounts hold `facebook` conversations). */
  type: text("type").$type<ChannelType>().notNull(),
  name: text("name").notNull(),
  /** Webchat: the SHA-256 of the secret its server endpoint checks. Other types: null. */
  secretHash: text("secret_hash"),
  status: text("status").$type<ChannelStatus>().notNull().default("active"),
  /** Non-secret settings of the account (e.g. a Meta page id, a WhatsApp phone number id). */
  settings: jsonb("settings").$type<Record<string, unknown>>().notNull().default({}),
  /** The credentials, encrypted at rest (AES-256-GCM, `CHANNEL_SECRETS_KEY`): never returned, never logged. */
  secretsEnc: text("secrets_enc"),
  createdAt: ts("created_at").notNull().defaultNow(),
  updatedAt: ts("updated_at").notNull().defaultNow(),
});

/**
 * Access tokens a provider issues to an account and that every process must share (WeChat: a new
 * token invalidates the previous one after a short overlap, and fetches are limited per day). One
 * row per channel account; the token encrypted like the credentials. `refreshingUntil` is one
 * process's claim to fetch a new token: the others wait for it instead of fetching their own.
 */
export const channelTokens = pgTable("channel_tokens", {
  channelId: text("channel_id")
    .primaryKey()
    .references(() => channels.id),
  /** The token, encrypted (AES-256-GCM, `CHANNEL_SECRETS_KEY`); null until the first fetch. */
  tokenEnc: text("token_enc"),
  /** The app the token was issued to (credentials changed: the token is not used). */
  appId: text("app_id"),
  /** When the token stops being used (the provider's expiry less a margin). */
  expiresAt: ts("expires_at"),
  refreshingUntil: ts("refreshing_until"),
});

/**
 * Provider events as received, committed before the webhook is answered: one row per channel and
 * provider event id (LINE `webhookEventId`, Meta `mid`, WhatsApp `wamid`, WeChat `MsgId`), so a
 * re-delivery stores nothing new. Processed into conversations through their rooms afterwards
 * (`processedAt`), resumed after a crash.
 */
export const inboundEvents = pgTable(
  "inbound_events",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    channelId: text("channel_id")
      .notNull()
      .references(() => channels.id),
    providerEventId: text("provider_event_id").notNull(),
    /** The normalized event (a customer message, a delivery status): what processing needs. */
    payload: jsonb("payload").$type<Record<string, unknown>>().notNull(),
    receivedAt: ts("received_at").notNull().defaultNow(),
    availableAt: ts("available_at").notNull().defaultNow(),
    attempts: integer("attempts").notNull().default(0),
    lastError: text("last_error"),
    processedAt: ts("processed_at"),
  },
  (t) => [
    uniqueIndex("inbound_events_provider_uq").on(t.channelId, t.providerEventId),
    index("inbound_events_pending_idx").on(t.availableAt).where(sql`${t.processedAt} is null`),
  ],
);

export const customers = pgTable(
  "customers",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    displayName: text("display_name").notNull(),
    channel: text("channel").$type<Channel>().notNull(),
    channelUserId: text("channel_user_id").notNull(),
    /** The profile picture the provider gives (LINE, Meta), when it gives one. */
    pictureUrl: text("picture_url"),
    createdAt: ts("created_at").notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("customers_channel_user_uq").on(t.workspaceId, t.channel, t.channelUserId),
    // Substring search on names in any script (R10.5): trigram, see docs/protocol.md "Search".
    index("customers_name_trgm").using("gin", sql`${t.displayName} gin_trgm_ops`),
  ],
);

export const conversations = pgTable(
  "conversations",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    customerId: text("customer_id")
      .notNull()
      .references(() => customers.id),
    channelId: text("channel_id").references(() => channels.id),
    channel: text("channel").$type<Channel>().notNull(),
    kind: text("kind").$type<ConversationKind>().notNull().default("direct"),
    status: text("status").$type<Status>().notNull(),
    followerId: text("follower_id").references(() => members.id),
    /** In list order (R14.5). */
    collaboratorIds: text("collaborator_ids").array().notNull().default(sql`'{}'::text[]`),
    /** Derived: has at least one collaborator (the lists' type filter, R10.2). */
    collaborative: boolean("collaborative")
      .notNull()
      .generatedAlwaysAs(sql`cardinality(collaborator_ids) > 0`),
    /** Optimistic lock: a writer holding a stale version cannot commit. */
    version: integer("version").notNull().default(0),
    /** The last `seq` handed out to a message or a status-log event of this conversation. */
    lastSeq: integer("last_seq").notNull().default(0),
    /** Sort key of the lists: the last message, or the creation time before any. */
    lastMessageAt: ts("last_message_at").notNull().defaultNow(),
    lastMessagePreview: text("last_message_preview"),
    lastCustomerMessageAt: ts("last_customer_message_at"),
    lastStaffReplyAt: ts("last_staff_reply_at"),
    /** The oldest customer message not yet answered by staff (R13.3); null when answered. */
    waitingSince: ts("waiting_since"),
    closedAt: ts("closed_at"),
    createdAt: ts("created_at").notNull().defaultNow(),
    updatedAt: ts("updated_at").notNull().defaultNow(),
  },
  (t) => [
    index("conversations_team_list_idx").on(t.workspaceId, t.status, t.lastMessageAt.desc(), t.id.desc()),
    index("conversations_team_type_idx").on(t.workspaceId, t.status, t.collaborative, t.lastMessageAt.desc(), t.id.desc()),
    index("conversations_waiting_idx").on(t.workspaceId, t.status, t.waitingSince, t.id),
    index("conversations_follower_idx").on(t.followerId, t.status, t.lastMessageAt.desc(), t.id.desc()),
    index("conversations_collaborators_gin").using("gin", t.collaboratorIds),
    index("conversations_customer_idx").on(t.customerId, t.createdAt.desc()),
  ],
);

export const messages = pgTable(
  "messages",
  {
    conversationId: text("conversation_id")
      .notNull()
      .references(() => conversations.id),
    seq: integer("seq").notNull(),
    sender: text("sender").$type<"customer" | "staff" | "system" | "auto">().notNull(),
    senderId: text("sender_id"),
    body: text("body"),
    /** For system messages: what happened, rendered on read (R16.2). */
    systemKind: text("system_kind").$type<SystemKind>(),
    subjectIds: text("subject_ids").array(),
    /** The client's request id (staff) or the channel's message id (customer): a retry applies once. */
    requestId: text("request_id"),
    /** The message's parts (text, media, sticker, location) when it has more than plain text; `body` is its text fallback. */
    parts: jsonb("parts").$type<MessagePart[]>(),
    /** Staff messages to a customer: where the delivery is (`domain/channels.ts` DeliveryStatus); null for others. */
    deliveryStatus: text("delivery_status").$type<DeliveryStatus>(),
    /** With `failed`: a stable code, and the provider's reason as it gave it. */
    deliveryCode: text("delivery_code"),
    deliveryReason: text("delivery_reason"),
    /** The provider's id of the sent message (to match its status callbacks). */
    providerMessageId: text("provider_message_id"),
    createdAt: ts("created_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.conversationId, t.seq] }),
    uniqueIndex("messages_request_uq").on(t.conversationId, t.sender, t.senderId, t.requestId),
    index("messages_provider_idx").on(t.providerMessageId).where(sql`${t.providerMessageId} is not null`),
    index("messages_body_trgm").using("gin", sql`${t.body} gin_trgm_ops`),
  ],
);

/** The status log (對話狀態紀錄), structured (R16.2). */
export const conversationEvents = pgTable(
  "conversation_events",
  {
    conversationId: text("conversation_id")
      .notNull()
      .references(() => conversations.id),
    seq: integer("seq").notNull(),
    kind: text("kind").$type<LogKind>().notNull(),
    actorId: text("actor_id"),
    targetIds: text("target_ids").array().notNull(),
    createdAt: ts("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.conversationId, t.seq] })],
);

/** Each member's own unread count and pin on a conversation (R11, R12). */
export const memberConversationState = pgTable(
  "member_conversation_state",
  {
    memberId: text("member_id")
      .notNull()
      .references(() => members.id),
    conversationId: text("conversation_id")
      .notNull()
      .references(() => conversations.id),
    unreadCount: integer("unread_count").notNull().default(0),
    lastReadSeq: integer("last_read_seq").notNull().default(0),
    pinned: boolean("pinned").notNull().default(false),
    pinnedAt: ts("pinned_at"),
    updatedAt: ts("updated_at").notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.memberId, t.conversationId] }),
    index("mcs_conversation_idx").on(t.conversationId),
    index("mcs_pinned_idx").on(t.memberId, t.pinned),
  ],
);

/** Accepted client requests and their answers, so a retried request id applies once. */
export const processedRequests = pgTable(
  "processed_requests",
  {
    conversationId: text("conversation_id").notNull(),
    memberId: text("member_id").notNull(),
    requestId: text("request_id").notNull(),
    createdAt: ts("created_at").notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.conversationId, t.memberId, t.requestId] })],
);

/** Stored real-time notifications, structured; rendered in the recipient's locale on read. */
export const notifications = pgTable(
  "notifications",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    workspaceId: text("workspace_id").notNull(),
    memberId: text("member_id")
      .notNull()
      .references(() => members.id),
    kind: text("kind").$type<NoticeKind>().notNull(),
    conversationId: text("conversation_id").references(() => conversations.id),
    actorId: text("actor_id"),
    actorRole: text("actor_role").$type<Role>(),
    createdAt: ts("created_at").notNull(),
    readAt: ts("read_at"),
  },
  (t) => [index("notifications_member_idx").on(t.memberId, t.id.desc())],
);

export type OutboxPayload =
  | { kind: "notice"; notificationId: number; memberId: string }
  | { kind: "effect"; conversationId: string; seq: number; effect: Effect };

/** Side effects that leave after commit (ARCHITECTURE invariant 1). */
export const outbox = pgTable(
  "outbox",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    topic: text("topic").notNull(),
    payload: jsonb("payload").$type<OutboxPayload>().notNull(),
    createdAt: ts("created_at").notNull().defaultNow(),
    availableAt: ts("available_at").notNull().defaultNow(),
    attempts: integer("attempts").notNull().default(0),
    lastError: text("last_error"),
    doneAt: ts("done_at"),
  },
  (t) => [index("outbox_pending_idx").on(t.topic, t.availableAt).where(sql`${t.doneAt} is null`)],
);

// The closed sets of jobs live in domain/jobs.ts; re-exported for the modules of db/.
export type { JobKind, JobOutcome, JobStatus };

/**
 * Long work over many conversations (bulk actions, member deactivation). Each item goes through
 * its conversation's room; a job whose process died is picked up again when its lease runs out.
 */
export const jobs = pgTable(
  "jobs",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    actorId: text("actor_id").references(() => members.id),
    kind: text("kind").$type<JobKind>().notNull(),
    /** The caller's `Idempotency-Key`: a retried call finds this job instead of starting another. */
    idempotencyKey: text("idempotency_key"),
    /** A hash of the request, so the same key with a different body is refused. */
    requestHash: text("request_hash"),
    input: jsonb("input").$type<Record<string, unknown>>().notNull(),
    status: text("status").$type<JobStatus>().notNull().default("running"),
    total: integer("total").notNull(),
    processed: integer("processed").notNull().default(0),
    error: text("error"),
    /** While a process works on the job it holds it until then; afterwards any process may take it. */
    leaseUntil: ts("lease_until"),
    createdAt: ts("created_at").notNull().defaultNow(),
    updatedAt: ts("updated_at").notNull().defaultNow(),
    finishedAt: ts("finished_at"),
  },
  (t) => [
    uniqueIndex("jobs_idempotency_uq").on(t.actorId, t.idempotencyKey).where(sql`${t.idempotencyKey} is not null`),
    index("jobs_running_idx").on(t.status, t.leaseUntil),
  ],
);


/** One conversation of a job, in order; `outcome` is null until it has been handled. */
export const jobItems = pgTable(
  "job_items",
  {
    jobId: text("job_id")
      .notNull()
      .references(() => jobs.id),
    idx: integer("idx").notNull(),
    conversationId: text("conversation_id").notNull(),
    outcome: text("outcome").$type<JobOutcome>(),
    code: text("code"),
    finishedAt: ts("finished_at"),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.idx] })],
);

// The kinds of durable timers live in domain/timers.ts (the auto-close reminder and the auto-close, R13.4).
export type { TimerKind };

/**
 * Durable timers, one per conversation and kind, set and cleared in the transaction of the action
 * that changes them. The scheduler claims due ones with `FOR UPDATE SKIP LOCKED` and a lease; a
 * timer due while no process ran fires at the next start.
 */
export const timers = pgTable(
  "timers",
  {
    conversationId: text("conversation_id")
      .notNull()
      .references(() => conversations.id),
    kind: text("kind").$type<TimerKind>().notNull(),
    dueAt: ts("due_at").notNull(),
    /** While a process runs the timer it holds it until then; afterwards any process may take it. */
    leaseUntil: ts("lease_until"),
    attempts: integer("attempts").notNull().default(0),
    lastError: text("last_error"),
    createdAt: ts("created_at").notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.conversationId, t.kind] }), index("timers_due_idx").on(t.dueAt)],
);

/**
 * A member's devices for push (issue 11): a browser's Web Push subscription (`token` is its
 * endpoint, with its `p256dh` and `auth` keys) or a mobile app's FCM registration token. A token
 * belongs to one member: registering it again (another member signed in on that phone) moves it.
 * A device the push service reports gone (404 / 410) is deleted.
 */
export const devices = pgTable(
  "devices",
  {
    id: text("id").primaryKey(),
    memberId: text("member_id")
      .notNull()
      .references(() => members.id),
    kind: text("kind").$type<DeviceKind>().notNull(),
    token: text("token").notNull(),
    p256dh: text("p256dh"),
    auth: text("auth"),
    /** The client's own label ("Chrome on a laptop", "Pixel 8"), shown in the list. */
    label: text("label"),
    createdAt: ts("created_at").notNull().defaultNow(),
    lastPushAt: ts("last_push_at"),
  },
  (t) => [uniqueIndex("devices_token_uq").on(t.kind, t.token), index("devices_member_idx").on(t.memberId)],
);

/** A member's push preferences: mute every push. No row: nothing muted. */
export const pushPreferences = pgTable("push_preferences", {
  memberId: text("member_id")
    .primaryKey()
    .references(() => members.id),
  mutedAll: boolean("muted_all").notNull().default(false),
  updatedAt: ts("updated_at").notNull().defaultNow(),
});

/** One conversation muted by one member: no push for it. */
export const pushMutes = pgTable(
  "push_mutes",
  {
    memberId: text("member_id")
      .notNull()
      .references(() => members.id),
    conversationId: text("conversation_id")
      .notNull()
      .references(() => conversations.id),
    createdAt: ts("created_at").notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.memberId, t.conversationId] })],
);

/**
 * Coalescing (issue 11): the customer messages waiting to be pushed to one member for one
 * conversation. The first message opens the window (`due_at` = its time + PUSH_COALESCE_SECONDS);
 * the next ones add to `count`; when due, one push says how many came. A process sending it holds
 * the row until `lease_until`; devices already sent to are in `sent_device_ids` (a retry skips them).
 */
export const pushBatches = pgTable(
  "push_batches",
  {
    memberId: text("member_id")
      .notNull()
      .references(() => members.id),
    conversationId: text("conversation_id")
      .notNull()
      .references(() => conversations.id),
    count: integer("count").notNull(),
    lastSeq: integer("last_seq").notNull(),
    dueAt: ts("due_at").notNull(),
    leaseUntil: ts("lease_until"),
    attempts: integer("attempts").notNull().default(0),
    sentDeviceIds: text("sent_device_ids").array().notNull().default(sql`'{}'::text[]`),
    lastError: text("last_error"),
  },
  (t) => [primaryKey({ columns: [t.memberId, t.conversationId] }), index("push_batches_due_idx").on(t.dueAt)],
);

/**
 * Satisfaction surveys (R8.2, R13.1): one per close of a conversation with `csatOnClose`, created
 * by the survey worker (server/csat.ts) from the close's `send_csat` outbox row. `closeKey`
 * (conversation id and the close's seq) makes a retried row create it once. The customer answers
 * once through the link `<PUBLIC_URL>/survey/<token>` until `expiresAt`; `token` is the only
 * credential (random, 32 bytes base64url).
 */
export const surveys = pgTable(
  "surveys",
  {
    id: text("id").primaryKey(),
    token: text("token").notNull(),
    closeKey: text("close_key").notNull(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    conversationId: text("conversation_id")
      .notNull()
      .references(() => conversations.id),
    customerId: text("customer_id")
      .notNull()
      .references(() => customers.id),
    createdAt: ts("created_at").notNull(),
    expiresAt: ts("expires_at").notNull(),
    /** 1–5 once answered. */
    score: integer("score"),
    comment: text("comment"),
    answeredAt: ts("answered_at"),
  },
  (t) => [
    uniqueIndex("surveys_token_uq").on(t.token),
    uniqueIndex("surveys_close_uq").on(t.closeKey),
    index("surveys_conversation_idx").on(t.conversationId, t.createdAt.desc()),
    index("surveys_answered_idx").on(t.workspaceId, t.answeredAt.desc()).where(sql`${t.answeredAt} is not null`),
  ],
);
