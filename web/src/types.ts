/** The shapes of docs/protocol.md the console reads (no DOM, no SDK: importable anywhere). */

export type Locale = "zh-TW" | "en";
export type Role = "admin" | "supervisor" | "cs_manager" | "marketing_cs" | "agent";
export type View = "mine" | "team";
export type Status = "pending" | "in_progress" | "closed";
export type Kind = "regular" | "collaborative";

export interface Member {
  id: string;
  name: string;
  role: Role;
  locale: Locale;
  workspaceId: string;
}
export interface Session {
  accessToken: string;
  refreshToken: string;
  /** Milliseconds since the epoch when the access token expires. */
  expiresAt: number;
  member: Member;
}
export interface MemberBrief {
  id: string;
  name: string;
  role: Role;
}
export interface ListItem {
  id: string;
  status: Status;
  kind: "direct" | "group";
  collaborative: boolean;
  channel: string;
  customer: { id: string; name: string };
  follower: MemberBrief | null;
  collaborators: MemberBrief[];
  lastMessageAt: string | null;
  lastMessagePreview: string | null;
  waitingSince: string | null;
  overdue: boolean;
  unreadCount: number;
  pinned: boolean;
  version: number;
}
export interface ListDelta {
  conversationId: string;
  version: number;
  view: View;
  op: "added" | "moved" | "updated" | "removed";
  from: { status: Status; type: Kind } | null;
  to: { status: Status; type: Kind } | null;
  item: ListItem | null;
}
export interface Notice {
  id: string;
  kind: string;
  conversationId: string | null;
  actorId: string | null;
  actorName: string | null;
  actorRole: string | null;
  customerName: string | null;
  text: string;
  createdAt: string;
  readAt: string | null;
}
export interface ActionResult {
  requestId: string | null;
  ok: boolean;
  code?: string;
  message?: string;
  seq?: number;
  duplicate?: boolean;
  [key: string]: unknown;
}

