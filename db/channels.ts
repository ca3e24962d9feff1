import { randomUUID } from "node:crypto";
import { and, asc, desc, eq, inArray, sql } from "drizzle-orm";
import { type ChannelStatus, type ChannelType, conversationChannelOf } from "../domain/channels.ts";
import type { Conversation } from "../domain/model.ts";
import type { Db } from "./client.ts";
import { Params, jsonColumn, runRaw, toDate } from "./raw.ts";
import type { ListTimes } from "./rows.ts";
import * as s from "./schema.ts";

/** Storage of channel accounts and of customer intake (the customer and the conversation a message lands in). */

export interface ChannelRow {
  readonly id: string;
  readonly workspaceId: string;
  readonly type: ChannelType;
  readonly status: ChannelStatus;
  /** Webchat: SHA-256 of the channel's secret, hex; null for other types. */
  readonly secretHash: string | null;
}

/** A channel account as stored: settings in clear, credentials encrypted (`secretsEnc`). */
export interface ChannelAccountRow {
  readonly id: string;
  readonly workspaceId: string;
  readonly type: ChannelType;
  readonly name: string;
  readonly status: ChannelStatus;
  readonly settings: Record<string, unknown>;
  readonly secretsEnc: string | null;
  readonly secretHash: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

const accountColumns = {
  id: s.channels.id,
  workspaceId: s.channels.workspaceId,
  type: s.channels.type,
  name: s.channels.name,
  status: s.channels.status,
  settings: s.channels.settings,
  secretsEnc: s.channels.secretsEnc,
  secretHash: s.channels.secretHash,
  createdAt: s.channels.createdAt,
  updatedAt: s.channels.updatedAt,
};

/**
 * One channel account by id (of `type` when given), or null. Written by hand (db/raw.ts): every
 * webhook reads its account.
 */
export async function selectChannelAccount(db: Db, id: string, type?: ChannelType): Promise<ChannelAccountRow | null> {
  const q = new Params();
  const [row] = await runRaw<{
    id: string;
    workspace_id: string;
    type: ChannelType;
    name: string;
    status: ChannelStatus;
    settings: unknown;
    secrets_enc: string | null;
    secret_hash: string | null;
    created_at: unknown;
    updated_at: unknown;
  }>(
    db,
    `select id, workspace_id, type, name, status, settings, secrets_enc, secret_hash, created_at, updated_at from channels
     where id = ${q.p(id, "text")}${type ? ` and type = ${q.p(type, "text")}` : ""}`,
    q.values,
  );
  if (!row) return null;
  return {
    id: row.id,
    workspaceId: row.workspace_id,
    type: row.type,
    name: row.name,
    status: row.status,
    settings: jsonColumn<Record<string, unknown>>(row.settings),
    secretsEnc: row.secrets_enc,
    secretHash: row.secret_hash,
    createdAt: toDate(row.created_at),
    updatedAt: toDate(row.updated_at),
  };
}

/** A workspace's channel accounts, oldest first. */
export async function listChannelAccounts(db: Db, workspaceId: string): Promise<ChannelAccountRow[]> {
  const c = s.channels;
  return db.select(accountColumns).from(c).where(eq(c.workspaceId, workspaceId)).orderBy(asc(c.createdAt), asc(c.id));
}

/** Stores a new channel account. */
export async function insertChannelAccount(
  db: Db,
  row: Pick<ChannelAccountRow, "id" | "workspaceId" | "type" | "name" | "settings" | "secretsEnc" | "secretHash">,
): Promise<ChannelAccountRow> {
  const [created] = await db.insert(s.channels).values(row).returning(accountColumns);
  if (!created) throw new Error("channel insert returned nothing");
  return created;
}

/** Changes a workspace's channel account; null when it is not there (or another workspace's). */
export async function updateChannelAccount(
  db: Db,
  workspaceId: string,
  id: string,
  patch: Partial<Pick<ChannelAccountRow, "name" | "status" | "settings" | "secretsEnc" | "secretHash">>,
  now: Date,
): Promise<ChannelAccountRow | null> {
  const c = s.channels;
  const [row] = await db
    .update(c)
    .set({ ...patch, updatedAt: now })
    .where(and(eq(c.id, id), eq(c.workspaceId, workspaceId)))
    .returning(accountColumns);
  return row ?? null;
}

/** A channel account of the given type, or null. */
export async function findChannel(db: Db, id: string, type: ChannelType): Promise<ChannelRow | null> {
  const c = s.channels;
  const rows = await db
    .select({ id: c.id, workspaceId: c.workspaceId, type: c.type, status: c.status, secretHash: c.secretHash })
    .from(c)
    .where(and(eq(c.id, id), eq(c.type, type)));
  return rows[0] ?? null;
}

export interface Intake {
  readonly conversationId: string;
  readonly customerId: string;
  /** The conversation when this call created it (pending, no follower), else null. */
  readonly created: { readonly conversation: Conversation; readonly times: ListTimes } | null;
}

/** A contact on a channel: the customer's id there and, when the provider gives them, their profile. */
export interface Contact {
  readonly channelUserId: string;
  readonly displayName?: string;
  readonly pictureUrl?: string;
}

/** The customer row standing for a group chat (R2.2): its conversation's customer; each message names its writer. */
export function groupUserId(groupId: string): string {
  return `group:${groupId}`;
}

/**
 * The customer of a channel user (created, or given the profile the provider sent) and the
 * conversation their message lands in — their latest one, created `pending` when they have none;
 * with `groupId`, the group chat's latest conversation (kind `group`), created the same way — in
 * one transaction. The create race is decided by a row lock, not by luck: the upsert of the
 * customer (or of the group's customer row) locks that row until the commit, so concurrent first
 * messages queue there and the later ones find the conversation the first created. Locks are
 * always taken writer first, group second, so two intakes never wait on each other in a cycle.
 */
export async function intakeCustomer(
  db: Db,
  channel: Pick<ChannelRow, "id" | "workspaceId" | "type">,
  contact: Contact,
  groupId?: string,
): Promise<Intake> {
  const conversationChannel = conversationChannelOf(channel.type);
  if (groupId === undefined) {
    const known = await knownContact(db, channel.workspaceId, conversationChannel, contact);
    if (known) return known;
  }
  return db.transaction(async (tx) => {
    const cu = s.customers;
    const upsert = async (channelUserId: string, displayName: string | undefined, pictureUrl: string | undefined, fallbackName: string) => {
      const [row] = await tx
        .insert(cu)
        .values({
          id: randomUUID(),
          workspaceId: channel.workspaceId,
          displayName: displayName ?? fallbackName,
          channel: conversationChannel,
          channelUserId,
          pictureUrl: pictureUrl ?? null,
        })
        .onConflictDoUpdate({
          target: [cu.workspaceId, cu.channel, cu.channelUserId],
          // Always an update (never DO NOTHING): it is what takes the row lock.
          set: {
            displayName: displayName ?? sql`${cu.displayName}`,
            pictureUrl: pictureUrl ?? sql`${cu.pictureUrl}`,
          },
        })
        .returning({ id: cu.id });
      if (!row) throw new Error("customer upsert returned nothing");
      return row.id;
    };
    const customerId = await upsert(contact.channelUserId, contact.displayName, contact.pictureUrl, contact.channelUserId);
    const ownerId = groupId === undefined ? customerId : await upsert(groupUserId(groupId), undefined, undefined, `Group ${groupId}`);
    const c = s.conversations;
    const latest = await tx.select({ id: c.id }).from(c).where(eq(c.customerId, ownerId)).orderBy(desc(c.createdAt)).limit(1);
    if (latest[0]) return { conversationId: latest[0].id, customerId, created: null };
    const [created] = await tx
      .insert(c)
      .values({
        id: randomUUID(),
        workspaceId: channel.workspaceId,
        customerId: ownerId,
        channelId: channel.id,
        channel: conversationChannel,
        kind: groupId === undefined ? "direct" : "group",
        status: "pending",
      })
      .returning();
    if (!created) throw new Error("conversation insert returned nothing");
    return {
      conversationId: created.id,
      customerId,
      created: {
        conversation: {
          id: created.id,
          workspaceId: created.workspaceId,
          customerId: created.customerId,
          channel: created.channel,
          kind: created.kind,
          status: created.status,
          followerId: created.followerId,
          collaboratorIds: created.collaboratorIds,
          version: created.version,
        },
        times: { lastMessageAt: created.lastMessageAt, waitingSince: created.waitingSince },
      },
    };
  });
}

/**
 * The common case in one read, without a transaction: a 1-on-1 contact already known, whose
 * profile did not change, and who has a conversation. Nothing to write, and nothing to race on —
 * a customer's conversations are never deleted, and a new one is made only for a customer who has
 * none (that case, and any profile change, go through the transaction above).
 */
async function knownContact(db: Db, workspaceId: string, channel: string, contact: Contact): Promise<Intake | null> {
  const q = new Params();
  const [row] = await runRaw<{ id: string; display_name: string; picture_url: string | null; conversation_id: string | null }>(
    db,
    `select cu.id, cu.display_name, cu.picture_url,
       (select c.id from conversations c where c.customer_id = cu.id order by c.created_at desc limit 1) as conversation_id
     from customers cu
     where cu.workspace_id = ${q.p(workspaceId, "text")} and cu.channel = ${q.p(channel, "text")} and cu.channel_user_id = ${q.p(contact.channelUserId, "text")}`,
    q.values,
  );
  if (!row?.conversation_id) return null;
  if (contact.displayName !== undefined && contact.displayName !== row.display_name) return null;
  if (contact.pictureUrl !== undefined && contact.pictureUrl !== row.picture_url) return null;
  return { conversationId: row.conversation_id, customerId: row.id, created: null };
}

/** The display names of the workspace's customers among `ids` (the writers of a group conversation's messages). */
export async function loadCustomerNames(db: Db, workspaceId: string, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const cu = s.customers;
  const rows = await db
    .select({ id: cu.id, name: cu.displayName })
    .from(cu)
    .where(and(eq(cu.workspaceId, workspaceId), inArray(cu.id, [...ids])));
  return new Map(rows.map((r) => [r.id, r.name]));
}
