import { randomUUID } from "node:crypto";
import { and, asc, desc, eq, inArray, notInArray } from "drizzle-orm";
import type { DeviceKind } from "../domain/push.ts";
import type { Db } from "./client.ts";
import * as s from "./schema.ts";

/**
 * Storage of a member's push devices and push preferences (issue 11). Every function that takes a
 * `memberId` acts on that member's own rows only: another member's device is invisible to it.
 */

export type DeviceRow = typeof s.devices.$inferSelect;

/** A member keeps at most this many devices: registering one more forgets the oldest. */
export const MAX_DEVICES_PER_MEMBER = 20;

export interface NewDevice {
  readonly memberId: string;
  readonly kind: DeviceKind;
  /** A Web Push endpoint, an FCM registration token, or an APNs device token (hex, lower-case). */
  readonly token: string;
  readonly p256dh: string | null;
  readonly auth: string | null;
  readonly label: string | null;
  readonly now: Date;
}

/**
 * Registers a device, or updates it when its token is known (a browser re-subscribing, an app
 * starting again): the token then belongs to this member, whoever had it (a phone changing hands).
 * Returns the stored row and whether it was new to this member.
 */
export async function registerDevice(db: Db, d: NewDevice): Promise<{ device: DeviceRow; created: boolean }> {
  return db.transaction(async (tx) => {
    const t = s.devices;
    const [before] = await tx
      .select({ memberId: t.memberId })
      .from(t)
      .where(and(eq(t.kind, d.kind), eq(t.token, d.token)))
      .for("update");
    const [device] = await tx
      .insert(t)
      .values({ id: randomUUID(), memberId: d.memberId, kind: d.kind, token: d.token, p256dh: d.p256dh, auth: d.auth, label: d.label, createdAt: d.now })
      .onConflictDoUpdate({ target: [t.kind, t.token], set: { memberId: d.memberId, p256dh: d.p256dh, auth: d.auth, label: d.label } })
      .returning();
    const keep = await tx
      .select({ id: t.id })
      .from(t)
      .where(eq(t.memberId, d.memberId))
      .orderBy(desc(t.createdAt), desc(t.id))
      .limit(MAX_DEVICES_PER_MEMBER);
    await tx.delete(t).where(and(eq(t.memberId, d.memberId), notInArray(t.id, keep.map((k) => k.id))));
    return { device: device!, created: before?.memberId !== d.memberId };
  });
}

/** The member's devices, oldest first. */
export function listDevices(db: Db, memberId: string): Promise<DeviceRow[]> {
  return db.select().from(s.devices).where(eq(s.devices.memberId, memberId)).orderBy(asc(s.devices.createdAt), asc(s.devices.id));
}

/** Removes one of the member's devices; false when the member has no such device. */
export async function removeDevice(db: Db, memberId: string, deviceId: string): Promise<boolean> {
  const gone = await db
    .delete(s.devices)
    .where(and(eq(s.devices.id, deviceId), eq(s.devices.memberId, memberId)))
    .returning({ id: s.devices.id });
  return gone.length > 0;
}

/** Forgets a device the push service reported gone (404 / 410). */
export async function forgetDevice(db: Db, deviceId: string): Promise<void> {
  await db.delete(s.devices).where(eq(s.devices.id, deviceId));
}

/** Notes that a push reached these devices. */
export async function touchDevices(db: Db, deviceIds: readonly string[], now: Date): Promise<void> {
  if (deviceIds.length === 0) return;
  await db.update(s.devices).set({ lastPushAt: now }).where(inArray(s.devices.id, [...deviceIds]));
}

export interface PushPreferences {
  readonly mutedAll: boolean;
  /** The conversations the member muted, in id order. */
  readonly mutedConversationIds: string[];
}

export async function loadPreferences(db: Db, memberId: string): Promise<PushPreferences> {
  const [pref] = await db.select({ mutedAll: s.pushPreferences.mutedAll }).from(s.pushPreferences).where(eq(s.pushPreferences.memberId, memberId));
  const mutes = await db
    .select({ id: s.pushMutes.conversationId })
    .from(s.pushMutes)
    .where(eq(s.pushMutes.memberId, memberId))
    .orderBy(asc(s.pushMutes.conversationId));
  return { mutedAll: pref?.mutedAll ?? false, mutedConversationIds: mutes.map((m) => m.id) };
}

export async function setMutedAll(db: Db, memberId: string, mutedAll: boolean, now: Date): Promise<void> {
  const p = s.pushPreferences;
  await db
    .insert(p)
    .values({ memberId, mutedAll, updatedAt: now })
    .onConflictDoUpdate({ target: p.memberId, set: { mutedAll, updatedAt: now } });
}

/** Mutes or unmutes one conversation for the member (idempotent). */
export async function setConversationMuted(db: Db, memberId: string, conversationId: string, muted: boolean, now: Date): Promise<void> {
  const m = s.pushMutes;
  if (muted) await db.insert(m).values({ memberId, conversationId, createdAt: now }).onConflictDoNothing();
  else await db.delete(m).where(and(eq(m.memberId, memberId), eq(m.conversationId, conversationId)));
}

/** Whether the conversation exists in the workspace (a member mutes only their workspace's conversations). */
export async function conversationInWorkspace(db: Db, conversationId: string, workspaceId: string): Promise<boolean> {
  const c = s.conversations;
  const [found] = await db
    .select({ id: c.id })
    .from(c)
    .where(and(eq(c.id, conversationId), eq(c.workspaceId, workspaceId)));
  return Boolean(found);
}
