import { randomBytes, randomUUID } from "node:crypto";
import { and, eq, isNull, sql } from "drizzle-orm";
import { insertChannelAccount } from "../../db/channels.ts";
import * as s from "../../db/schema.ts";
import { encryptSecrets, secretsKeyOf } from "../../server/channels/secrets.ts";
import { WORKSPACE } from "../support/demo.ts";
import { lineUserId } from "../support/fakes/line.ts";
import { createConversation, type Fixture } from "../support/fixtures.ts";
import type { App } from "../support/server.ts";

/** Delivery tests' fixtures: a LINE channel account (credentials encrypted as the server stores them) and a conversation on it. */

export interface LineAccount {
  readonly id: string;
  readonly token: string;
}

/** A LINE channel account of the demo workspace whose access token the fake accepts. */
export async function createLineAccount(app: App): Promise<LineAccount> {
  const db = app.database.db;
  const id = `line-${randomUUID().slice(0, 8)}`;
  const token = randomBytes(24).toString("base64url");
  await insertChannelAccount(db, {
    id,
    workspaceId: WORKSPACE,
    type: "line",
    name: "LINE test",
    settings: {},
    secretsEnc: encryptSecrets(secretsKeyOf(db), { channelSecret: randomBytes(16).toString("hex"), channelAccessToken: token }),
    secretHash: null,
  });
  return { id, token };
}

/** A LINE conversation (follower: Jess unless `spec` says) through `account`, its customer a LINE user id. */
export async function lineConversation(
  app: App,
  account: LineAccount,
  spec: Parameters<typeof createConversation>[1] = {},
): Promise<Fixture & { lineUser: string }> {
  const db = app.database.db;
  const f = await createConversation(app, { channel: "line", ...spec });
  const lineUser = lineUserId(f.id);
  await db.update(s.conversations).set({ channelId: account.id }).where(eq(s.conversations.id, f.id));
  await db.update(s.customers).set({ channelUserId: lineUser }).where(eq(s.customers.id, f.customerId));
  return { ...f, channelUserId: lineUser, lineUser };
}

/** A message's stored delivery columns. */
export async function deliveryRow(app: App, conversationId: string, seq: number) {
  const m = s.messages;
  const [row] = await app.database.db
    .select({ status: m.deliveryStatus, code: m.deliveryCode, reason: m.deliveryReason, providerMessageId: m.providerMessageId })
    .from(m)
    .where(and(eq(m.conversationId, conversationId), eq(m.seq, seq)));
  return row;
}

export async function setChannelStatus(app: App, channelId: string, status: "active" | "disabled"): Promise<void> {
  await app.database.db.update(s.channels).set({ status }).where(eq(s.channels.id, channelId));
}

/** How many `deliver_reply` outbox rows of a conversation are not done. */
export async function pendingDeliveries(app: App, conversationId: string): Promise<number> {
  const o = s.outbox;
  const rows = await app.database.db
    .select({ id: o.id })
    .from(o)
    .where(and(eq(o.topic, "deliver_reply"), isNull(o.doneAt), sql`${o.payload}->>'conversationId' = ${conversationId}`));
  return rows.length;
}
