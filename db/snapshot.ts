import type { Conversation, WorkspaceSettings } from "../domain/model.ts";
import type { Db } from "./client.ts";
import { Params, runRaw, toDate } from "./raw.ts";
import type { LoadedConversation } from "./repository.ts";
import type * as s from "./schema.ts";
import { type StoredMessage, toStoredMessage } from "./timeline.ts";
import { settingsOf } from "./workspaces.ts";

/** The newest survey of a conversation as its room shows it (R8.2). */
export interface ShownSurvey {
  readonly id: string;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  readonly score: number | null;
  readonly comment: string | null;
  readonly answeredAt: Date | null;
}

/** Everything a conversation room is built from, as stored at one moment. */
export interface RoomSnapshot {
  readonly loaded: LoadedConversation;
  /** The newest messages, oldest first. */
  readonly messages: StoredMessage[];
  /** The names of the participants, the customer, and every writer and subject of those messages (members with their role; customers "customer"). */
  readonly names: Map<string, { name: string; role: string }>;
  readonly survey: ShownSurvey | null;
}

interface SnapshotRow {
  conv: unknown;
  messages: unknown;
  names: unknown;
  survey: unknown;
}

/** A json column: an object from postgres.js, a string from some drivers. */
const json = <T>(v: unknown): T => (typeof v === "string" ? JSON.parse(v) : v) as T;

/**
 * A conversation room's restore in one statement (one round trip, one socket write): the
 * conversation with its customer's name and its workspace's settings, the newest `limit`
 * messages, the names of everyone they show, and the newest survey. Null when there is no such
 * conversation. Before, a restore took four statements (conversation, messages, names, survey):
 * for a bulk job that creates thousands of rooms, their writes were most of the server's CPU
 * (docs/benchmarks.md, P5).
 */
export async function loadRoomSnapshot(db: Db, conversationId: string, limit: number): Promise<RoomSnapshot | null> {
  const q = new Params();
  const id = q.p(conversationId, "text");
  const [row] = await runRaw<SnapshotRow>(
    db,
    `with c as (
       select c.id, c.workspace_id, c.customer_id, c.channel, c.kind, c.status, c.follower_id, c.collaborator_ids, c.version,
         c.last_seq, c.last_message_at, c.waiting_since, cu.display_name as customer_name, w.settings
       from conversations c join customers cu on cu.id = c.customer_id join workspaces w on w.id = c.workspace_id
       where c.id = ${id}),
     m as (
       select seq, sender, sender_id, body, system_kind, subject_ids, parts, delivery_status, delivery_code, delivery_reason, created_at
       from messages where conversation_id = ${id} order by seq desc limit ${q.p(limit, "int")}),
     wanted as (
       select follower_id as id from c
       union select unnest(collaborator_ids) from c
       union select customer_id from c
       union select sender_id from m
       union select unnest(subject_ids) from m),
     names as (
       select mb.id, mb.name, mb.role from members mb join c on mb.workspace_id = c.workspace_id where mb.id in (select id from wanted)
       union all
       select cu.id, cu.display_name, 'customer' from customers cu join c on cu.workspace_id = c.workspace_id
       where cu.id in (select id from wanted) and not exists (select 1 from members x where x.id = cu.id and x.workspace_id = c.workspace_id))
     select row_to_json(c) as conv,
       (select coalesce(json_agg(m order by m.seq), '[]'::json) from m) as messages,
       (select coalesce(json_agg(json_build_array(names.id, names.name, names.role)), '[]'::json) from names) as names,
       (select row_to_json(sv) from (select id, created_at, expires_at, score, comment, answered_at from surveys
          where conversation_id = ${id} order by created_at desc, id desc limit 1) sv) as survey
     from c`,
    q.values,
  );
  if (!row) return null;
  const c = json<{
    id: string;
    workspace_id: string;
    customer_id: string;
    channel: Conversation["channel"];
    kind: Conversation["kind"];
    status: Conversation["status"];
    follower_id: string | null;
    collaborator_ids: string[];
    version: number;
    last_seq: number;
    last_message_at: string;
    waiting_since: string | null;
    customer_name: string;
    settings: Partial<WorkspaceSettings> | null;
  }>(row.conv);
  const messages = json<Record<string, unknown>[]>(row.messages).map((m) =>
    toStoredMessage({
      conversationId,
      seq: m.seq,
      sender: m.sender,
      senderId: m.sender_id,
      body: m.body,
      systemKind: m.system_kind,
      subjectIds: m.subject_ids,
      parts: json(m.parts),
      deliveryStatus: m.delivery_status,
      deliveryCode: m.delivery_code,
      deliveryReason: m.delivery_reason,
      createdAt: toDate(m.created_at),
    } as typeof s.messages.$inferSelect),
  );
  const names = new Map(json<[string, string, string][]>(row.names).map(([nid, name, role]) => [nid, { name, role }]));
  const sv = json<{
    id: string;
    created_at: string;
    expires_at: string;
    score: number | null;
    comment: string | null;
    answered_at: string | null;
  } | null>(row.survey);
  return {
    loaded: {
      conversation: {
        id: c.id,
        workspaceId: c.workspace_id,
        customerId: c.customer_id,
        channel: c.channel,
        kind: c.kind,
        status: c.status,
        followerId: c.follower_id,
        collaboratorIds: c.collaborator_ids ?? [],
        version: c.version,
      },
      customer: { id: c.customer_id, displayName: c.customer_name },
      settings: settingsOf(c.settings),
      storedSettings: c.settings,
      lastSeq: c.last_seq,
      times: { lastMessageAt: toDate(c.last_message_at), waitingSince: c.waiting_since == null ? null : toDate(c.waiting_since) },
    },
    messages,
    names,
    survey: sv
      ? {
          id: sv.id,
          createdAt: toDate(sv.created_at),
          expiresAt: toDate(sv.expires_at),
          score: sv.score,
          comment: sv.comment,
          answeredAt: sv.answered_at == null ? null : toDate(sv.answered_at),
        }
      : null,
  };
}
