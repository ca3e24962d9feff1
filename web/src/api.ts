/**
 * The console's data access, kept thin so the typed client (client/, issue 12 item 1) can replace
 * it: sign-in and refresh (§1), the HTTP list and notices (§7.1, §7.3), and the rooms joined with
 * the SDK's browser build (§2.1, §3, §8). Types are the shapes docs/protocol.md gives.
 */
import { Client, type Room } from "@colyseus/sdk";

import type { ActionResult, Kind, ListItem, Member, Notice, Role, Session, Status, View } from "./types.ts";

export type * from "./types.ts";

/** A refused HTTP request or room join: the stable code and the server's (localized) message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const KEY = "inbox-console:session";
let session: Session | null = readSession();
const listeners = new Set<(s: Session | null) => void>();

function readSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

function setSession(next: Session | null): void {
  session = next;
  if (next) sessionStorage.setItem(KEY, JSON.stringify(next));
  else sessionStorage.removeItem(KEY);
  for (const listener of listeners) listener(next);
}

export function currentSession(): Session | null {
  return session;
}
export function onSession(listener: (s: Session | null) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
export function signOut(): void {
  setSession(null);
}

function preferredLanguage(): string {
  return session?.member.locale ?? navigator.language;
}

async function send(method: string, path: string, body?: unknown, token?: string): Promise<Response> {
  const headers: Record<string, string> = { accept: "application/json", "accept-language": preferredLanguage() };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token) headers.authorization = `Bearer ${token}`;
  return fetch(path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
}

async function parse<T>(res: Response): Promise<T> {
  const data = (await res.json().catch(() => null)) as { code?: string; message?: string } | null;
  if (!res.ok) throw new ApiError(res.status, data?.code ?? "INTERNAL", data?.message ?? res.statusText);
  return data as T;
}

interface TokenPair {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  member: Member;
}
const toSession = (p: TokenPair): Session => ({
  accessToken: p.accessToken,
  refreshToken: p.refreshToken,
  expiresAt: Date.now() + p.expiresIn * 1000,
  member: p.member,
});

/** `POST /auth/login` (§1); the tokens are kept in sessionStorage (this tab only). */
export async function login(email: string, password: string): Promise<Session> {
  const next = toSession(await parse<TokenPair>(await send("POST", "/auth/login", { email, password })));
  setSession(next);
  return next;
}

let refreshing: Promise<Session> | null = null;
/** `POST /auth/refresh` (§1): one at a time (a refresh token is single use). Signs out when refused. */
export function refreshSession(): Promise<Session> {
  const current = session;
  if (!current) return Promise.reject(new ApiError(401, "UNAUTHENTICATED", "signed out"));
  refreshing ??= (async () => {
    try {
      const next = toSession(await parse<TokenPair>(await send("POST", "/auth/refresh", { refreshToken: current.refreshToken })));
      setSession({ ...next, member: { ...current.member, ...next.member } });
      return session!;
    } catch (err) {
      if (err instanceof ApiError && err.status < 500) setSession(null);
      throw err;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

/** An access token good for at least another minute. */
export async function freshToken(): Promise<string> {
  if (!session) throw new ApiError(401, "UNAUTHENTICATED", "signed out");
  if (session.expiresAt - Date.now() < 60_000) await refreshSession();
  return session!.accessToken;
}

/** An authenticated HTTP call; an expired token is refreshed once and the call retried. */
export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  let res = await send(method, path, body, await freshToken());
  if (res.status === 401) {
    const data = (await res
      .clone()
      .json()
      .catch(() => null)) as { code?: string } | null;
    if (data?.code === "TOKEN_EXPIRED") res = await send(method, path, body, (await refreshSession()).accessToken);
  }
  if (res.status === 403 || res.status === 401) {
    const data = (await res
      .clone()
      .json()
      .catch(() => null)) as { code?: string } | null;
    if (data?.code === "MEMBER_INACTIVE" || data?.code === "UNAUTHENTICATED") setSession(null);
  }
  return parse<T>(res);
}

export interface ListQuery {
  view: View;
  status: Status;
  type?: "all" | Kind;
  sort?: "last_message" | "overdue";
  /** Search (1–100 characters); "" for none. */
  q?: string;
  cursor?: string | null;
  limit?: number;
}
/** `GET /api/v2/conversations` (§7.3). */
export function listConversations(q: ListQuery): Promise<{ items: ListItem[]; nextCursor: string | null }> {
  const params = new URLSearchParams({ view: q.view, status: q.status, type: q.type ?? "all", sort: q.sort ?? "last_message" });
  if (q.q) params.set("q", q.q);
  if (q.cursor) params.set("cursor", q.cursor);
  if (q.limit) params.set("limit", String(q.limit));
  return call("GET", `/api/v2/conversations?${params}`);
}

export interface Candidate {
  id: string;
  name: string;
  email: string;
  phone: string | null;
  role: Role;
}
/** `GET /api/v2/conversations/{id}/candidates` (§7.4): active members who are not participants. */
export function listCandidates(conversationId: string, q: string): Promise<{ items: Candidate[] }> {
  const params = new URLSearchParams({ limit: "20" });
  if (q.trim()) params.set("q", q.trim());
  return call("GET", `/api/v2/conversations/${encodeURIComponent(conversationId)}/candidates?${params}`);
}

/** `GET /api/v2/notifications` (§7.1), newest first. */
export function listNotices(): Promise<{ items: Notice[]; unread: number; nextBefore: string | null }> {
  return call("GET", "/api/v2/notifications?limit=50");
}
/** `POST /api/v2/notifications/read` with `{ all: true }`. */
export function markAllNoticesRead(): Promise<{ changed: number; unread: number }> {
  return call("POST", "/api/v2/notifications/read", { all: true });
}

async function sdk(): Promise<Client> {
  const client = new Client(location.origin);
  client.auth.token = await freshToken();
  return client;
}

/** A refused join's error: `code` an HTTP-like number, `message` `"CODE: text"` (§2.1). */
function joinError(err: unknown): ApiError {
  const e = err as { code?: number; message?: string };
  const message = e.message ?? String(err);
  const match = /^([A-Z_]+): (.*)$/s.exec(message);
  return new ApiError(e.code ?? 500, match?.[1] ?? "INTERNAL", match?.[2] ?? message);
}

async function firstState(room: Room): Promise<Room> {
  await new Promise<void>((resolve) => room.onStateChange.once(() => resolve()));
  return room;
}

/** The member's inbox room (§3, §8), resolved once its first state (the counts) has arrived. */
export async function joinInbox(): Promise<Room> {
  const memberId = session?.member.id;
  if (!memberId) throw new ApiError(401, "UNAUTHENTICATED", "signed out");
  try {
    return await firstState(await (await sdk()).joinOrCreate("inbox", { memberId }));
  } catch (err) {
    throw joinError(err);
  }
}

/** A conversation room (§2.1), resolved once its first state has arrived. */
export async function joinConversation(conversationId: string, view: View): Promise<Room> {
  try {
    return await firstState(await (await sdk()).joinOrCreate("conversation", { conversationId, view }));
  } catch (err) {
    throw joinError(err);
  }
}

let counter = 0;
/** Sends an action (§2.3) and resolves with its `result`. */
export function act(room: Room, type: string, payload: Record<string, unknown> = {}): Promise<ActionResult> {
  const requestId = `web-${Date.now().toString(36)}-${(counter++).toString(36)}`;
  return new Promise((resolve) => {
    const off = room.onMessage("result", (r: ActionResult) => {
      if (r.requestId !== requestId) return;
      off();
      resolve(r);
    });
    room.send(type, { ...payload, requestId });
  });
}
