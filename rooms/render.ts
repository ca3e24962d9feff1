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
  return [...(m.senderId && m.sender === "staff" ? [m.senderId] : []), ...(m.system?.subjectIds ?? [])];
}

export function toMessageItem(m: StoredMessage, names: Names, customerName: string): MessageItem {
  const item = new MessageItem();
  item.seq = m.seq;
  item.sender = m.sender;
  item.senderId = m.senderId ?? "";
  item.senderName = m.sender === "customer" ? customerName : m.sender === "staff" ? nameOf(names)(m.senderId) : "";
  item.body = m.body ?? "";
  item.createdAt = m.createdAt.getTime();
  item.delivery = m.deliveryStatus ?? "";
  item.deliveryCode = m.deliveryCode ?? "";
  item.deliveryReason = m.deliveryReason ?? "";
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
    senderName: m.sender === "customer" ? customerName : m.sender === "staff" ? nameOf(names)(m.senderId) : "",
    body: m.body ?? "",
    systemKind: m.system?.kind ?? "",
    text: m.system ? renderSystem(m.system, locale, nameOf(names)) : (m.body ?? ""),
    createdAt: m.createdAt.toISOString(),
    delivery: m.deliveryStatus ?? "",
    deliveryCode: m.deliveryCode ?? "",
    deliveryReason: m.deliveryReason ?? "",
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
