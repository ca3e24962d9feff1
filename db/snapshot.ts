import type { Conversation, WorkspaceSettings } from "../domain/model.ts";
import type { Db } from "./client.ts";
import { Params, jsonColumn as json, runRaw, statementFlights, toDate } from "./raw.ts";
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

/** The most conversations one snapshot statement reads. */
export const SNAPSHOT_BATCH_MAX = 64;
/** Snapshot statements in flight at once on PostgreSQL (`statementFlights`: 1 on PGlite). */
const SNAPSHOT_FLIGHTS = 2;

/**
 * A conversation room's restore: the conversation with its customer's name and its workspace's
 * settings, the newest `limit` messages, the names of everyone they show, and the newest survey.
 * Null when there is no such conversation.
 *
 * Restores are read together (`SnapshotQueue`): a restore that finds a statement slot free is
 * read at once, alone; the restores that arrive while every slot is busy wait and are read
 * together by the next statement (`loadRoomSnapshots`), as commits are grouped (db/commit.ts). A
 * bulk job creates thousands of rooms, and one statement per room was most of PostgreSQL's work
 * during it (its planning and start-up, per room; docs/benchmarks.md, P5). Each snapshot is as
 * fresh as a read of its own: it is read after the room asked for it, never before.
 */
export function loadRoomSnapshot(db: Db, conversationId: string, limit: number): Promise<RoomSnapshot | null> {
  return snapshotQueueOf(db, limit).load(conversationId);
}

/**
 * The snapshots of `conversationIds` (each at most once) in one statement: the ones that exist,
 * by id. What each holds is exactly what reading it alone gives.
 */
export async function loadRoomSnapshots(db: Db, conversationIds: readonly string[], limit: number): Promise<Map<string, RoomSnapshot>> {
  const q = new Params();
  const ids = q.p([...new Set(conversationIds)], "text[]");
  const rows = await runRaw<SnapshotRow>(
    db,
    `with c as (
       select c.id, c.workspace_id, c.customer_id, c.channel, c.kind, c.status, c.follower_id, c.collaborator_ids, c.version,
         c.last_seq, c.last_message_at, c.waiting_since, cu.display_name as customer_name, w.settings, md5(w.settings::text) as settings_hash
       from conversations c join customers cu on cu.id = c.customer_id join workspaces w on w.id = c.workspace_id
       where c.id = any(${ids})),
     m as (
       select c.id as cid, c.workspace_id as wid, mm.* from c cross join lateral (
         select seq, sender, sender_id, body, system_kind, subject_ids, parts, delivery_status, delivery_code, delivery_reason, created_at
         from messages where conversation_id = c.id order by seq desc limit ${Math.max(0, Math.trunc(limit))}) mm),
     wanted as (
       select workspace_id as wid, follower_id as id from c
       union select workspace_id, unnest(collaborator_ids) from c
       union select workspace_id, customer_id from c
       union select wid, sender_id from m
       union select wid, unnest(subject_ids) from m),
     names as (
       select mb.id, mb.name, mb.role, mb.workspace_id as wid from members mb join wanted w on w.id = mb.id and w.wid = mb.workspace_id
       union all
       select cu.id, cu.display_name, 'customer', cu.workspace_id from customers cu join wanted w on w.id = cu.id and w.wid = cu.workspace_id
       where not exists (select 1 from members x where x.id = cu.id and x.workspace_id = cu.workspace_id))
     select row_to_json(c) as conv,
       (select coalesce(json_agg(m order by m.seq), '[]'::json) from m where m.cid = c.id) as messages,
       null::json as names,
       (select row_to_json(sv) from (select id, created_at, expires_at, score, comment, answered_at from surveys
          where conversation_id = c.id order by created_at desc, id desc limit 1) sv) as survey
     from c
     union all
     select null, null, (select coalesce(json_agg(json_build_array(n.id, n.name, n.role, n.wid)), '[]'::json) from names n), null`,
    q.values,
  );
  // The names of the whole batch, by workspace and id; each snapshot takes the ones it shows.
  const all = new Map<string, { name: string; role: string }>();
  for (const row of rows)
    if (row.conv == null) for (const [nid, name, role, wid] of json<[string, string, string, string][]>(row.names ?? "[]")) all.set(nameKey(wid, nid), { name, role });
  const out = new Map<string, RoomSnapshot>();
  for (const row of rows) {
    if (row.conv == null) continue;
    const snapshot = snapshotOf(row, all);
    out.set(snapshot.loaded.conversation.id, snapshot);
  }
  return out;
}

const nameKey = (workspaceId: string, id: string) => `${workspaceId}\u0000${id}`;

function snapshotOf(row: SnapshotRow, allNames: Map<string, { name: string; role: string }>): RoomSnapshot {
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
    settings_hash: string | null;
  }>(row.conv);
  const rows = json<Record<string, unknown>[]>(row.messages);
  const messages = rows.map((m) =>
    toStoredMessage({
      conversationId: c.id,
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
  // Everyone this conversation shows: its participants, its customer, the writers and subjects of its messages.
  const names = new Map<string, { name: string; role: string }>();
  const shown = [
    c.follower_id,
    ...(c.collaborator_ids ?? []),
    c.customer_id,
    ...rows.flatMap((m) => [m.sender_id as string | null, ...((m.subject_ids as string[] | null) ?? [])]),
  ];
  for (const nid of shown) {
    if (nid == null) continue;
    const found = allNames.get(nameKey(c.workspace_id, nid));
    if (found) names.set(nid, found);
  }
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
      settingsHash: c.settings_hash ?? null,
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

// ---- reading restores together ----------------------------------------------------------------

interface PendingLoad {
  readonly id: string;
  resolve(snapshot: RoomSnapshot | null): void;
  reject(err: unknown): void;
}

/**
 * Restores read together: a load that finds a slot free (SNAPSHOT_FLIGHTS) is read at once; the
 * loads that arrive while every slot is busy wait and go together in the next statement (at most
 * SNAPSHOT_BATCH_MAX). A failed statement fails every load it held, as a read of each alone would
 * (the rooms' restores answer STORAGE_UNAVAILABLE as before).
 */
class SnapshotQueue {
  private readonly waiting: PendingLoad[] = [];
  private flights = 0;

  constructor(
    private readonly db: Db,
    private readonly limit: number,
    private readonly maxFlights: number,
  ) {}

  load(id: string): Promise<RoomSnapshot | null> {
    return new Promise<RoomSnapshot | null>((resolve, reject) => {
      this.waiting.push({ id, resolve, reject });
      this.next();
    });
  }

  private next(): void {
    while (this.flights < this.maxFlights && this.waiting.length > 0) {
      const batch = this.waiting.splice(0, SNAPSHOT_BATCH_MAX);
      this.flights++;
      void this.read(batch).finally(() => {
        this.flights--;
        this.next();
      });
    }
  }

  private async read(batch: PendingLoad[]): Promise<void> {
    let found: Map<string, RoomSnapshot>;
    try {
      found = await loadRoomSnapshots(
        this.db,
        batch.map((p) => p.id),
        this.limit,
      );
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    for (const p of batch) p.resolve(found.get(p.id) ?? null);
  }
}

const snapshotQueues = new WeakMap<Db, Map<number, SnapshotQueue>>();

function snapshotQueueOf(db: Db, limit: number): SnapshotQueue {
  let byLimit = snapshotQueues.get(db);
  if (!byLimit) {
    byLimit = new Map();
    snapshotQueues.set(db, byLimit);
  }
  let q = byLimit.get(limit);
  if (!q) {
    q = new SnapshotQueue(db, limit, statementFlights(db, SNAPSHOT_FLIGHTS));
    byLimit.set(limit, q);
  }
  return q;
}
