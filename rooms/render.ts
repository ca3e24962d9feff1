import type { StoredEvent, StoredMessage } from "../db/repository.ts";
import { renderLog, renderSystem } from "../domain/texts.ts";
import { LOCALES, type Locale } from "../domain/sets.ts";
import { MessageItem } from "./state.ts";

export type Names = ReadonlyMap<string, { readonly name: string; readonly role: string }>;

export function nameOf(names: Names) {
  return (id: string | null) => (id ? (names.get(id)?.name ?? "?") : "");
}

/** Ids whose names a message needs. */
export function idsOfMessage(m: StoredMessage): string[] {
  // Customer senders too: in a group conversation (R2.2) each message names the customer who wrote it.
  return [...(m.senderId && m.sender !== "system" ? [m.senderId] : []), ...(m.system?.subjectIds ?? [])];
}

/** A customer message is named by its writer (a group's member, R2.2) when known, else by the conversation's customer. */
function senderNameOf(m: StoredMessage, names: Names, customerName: string): string {
  if (m.sender === "customer") return (m.senderId ? names.get(m.senderId)?.name : undefined) ?? customerName;
  return m.sender === "staff" ? nameOf(names)(m.senderId) : "";
}

export function toMessageItem(m: StoredMessage, names: Names, customerName: string): MessageItem {
  const item = new MessageItem();
  item.seq = m.seq;
  item.sender = m.sender;
  item.senderId = m.senderId ?? "";
  item.senderName = senderNameOf(m, names, customerName);
  item.body = m.body ?? "";
  item.createdAt = m.createdAt.getTime();
  item.delivery = m.deliveryStatus ?? "";
  item.deliveryCode = m.deliveryCode ?? "";
  item.deliveryReason = m.deliveryReason ?? "";
  item.parts = m.parts ? JSON.stringify(m.parts) : "";
  if (m.system) {
    item.systemKind = m.system.kind;
    for (const locale of LOCALES) item.texts.set(locale, renderSystem(m.system, locale, nameOf(names)));
  }
  return item;
}

/**
 * A message as a history page returns it, rendered in one locale. Its fields hold the same values
 * as the state's `MessageItem` (docs/protocol.md §2.2, §2.7): `""`, never `null`, where a message
 * has no sender id, sender name, body or system kind, so one client type reads both.
 */
export function messageJson(m: StoredMessage, names: Names, customerName: string, locale: Locale) {
  return {
    seq: m.seq,
    sender: m.sender,
    senderId: m.senderId ?? "",
    senderName: senderNameOf(m, names, customerName),
    body: m.body ?? "",
    systemKind: m.system?.kind ?? "",
    text: m.system ? renderSystem(m.system, locale, nameOf(names)) : (m.body ?? ""),
    createdAt: m.createdAt.toISOString(),
    delivery: m.deliveryStatus ?? "",
    deliveryCode: m.deliveryCode ?? "",
    deliveryReason: m.deliveryReason ?? "",
    parts: m.parts ? JSON.stringify(m.parts) : "",
  };
}

export function eventJson(e: StoredEvent, names: Names, locale: Locale) {
  return {
    seq: e.seq,
    kind: e.kind,
    actorId: e.actorId,
    targetIds: e.targetIds,
    text: renderLog(e, locale, nameOf(names)),
    createdAt: e.createdAt.toISOString(),
  };
}
