import type { StoredNotification } from "../db/notifications.ts";
import type { NoticeKind } from "../domain/events.ts";
import type { Role } from "../domain/sets.ts";
import { renderNotice } from "../domain/texts.ts";

/** A notification as clients receive it (HTTP lists and the inbox room's `notice`): rendered in its recipient's locale. */
export interface NotificationJson {
  id: number;
  kind: NoticeKind;
  conversationId: string | null;
  actorId: string | null;
  actorName: string | null;
  actorRole: Role | null;
  customerName: string | null;
  text: string;
  createdAt: string;
  readAt: string | null;
}

/** Renders a stored notification (names as they are now, R16.2) in its recipient's locale (R16.1). */
export function notificationJson(n: StoredNotification): NotificationJson {
  return {
    id: n.id,
    kind: n.kind,
    conversationId: n.conversationId,
    actorId: n.actorId,
    actorName: n.actorName,
    actorRole: n.actorRole,
    customerName: n.customerName,
    text: renderNotice(
      { kind: n.kind, actorName: n.actorName ?? "", actorRole: n.actorRole, customerName: n.customerName ?? "" },
      n.recipientLocale,
    ),
    createdAt: n.createdAt.toISOString(),
    readAt: n.readAt?.toISOString() ?? null,
  };
}
