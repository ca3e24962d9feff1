/**
 * The console's data access, over the typed client (client/, docs/protocol.md §0): one
 * `InboxClient` for the tab, its session kept in sessionStorage (this tab only) and refreshed by
 * the client before it runs out (§1); the HTTP calls through its typed `http` (openapi-fetch over
 * the OpenAPI document); the rooms through `openInbox` / `openConversation` (first state awaited,
 * reconnection, catch-up, request ids). The functions below keep the names the screens use.
 */
import {
  ApiError as ClientApiError,
  type ConversationView,
  ErrorCode,
  InboxClient,
  type InboxView,
  JoinError,
  unwrap,
} from "../../client/index.ts";
import type { Candidate, Kind, ListItem, Notice, Session, Status, View } from "./types.ts";

export type * from "./types.ts";

/**
 * A refused HTTP request or room join: the HTTP status, the stable code, and the server's message
 * in the member's locale (shown as is). The client's `ApiError`, with the plain message.
 */
export class ApiError extends ClientApiError {
  constructor(status: number, code: string, message: string, body?: unknown) {
    super(status, code as ClientApiError["code"], message, body);
    this.message = message;
  }
}

/** Any failure of the client as the console's `ApiError` (an HTTP refusal, a refused join); other errors as they are. */
export function asApiError(e: unknown): unknown {
  if (e instanceof ApiError) return e;
  if (e instanceof ClientApiError) {
    const body = e.body as { message?: string } | undefined;
    return new ApiError(e.status, e.code, body?.message ?? e.message, e.body);
  }
  if (e instanceof JoinError) return new ApiError(e.status || 500, e.code, e.message.replace(/^[A-Z_]+: /, ""));
  return e;
}

async function guard<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (e) {
    throw asApiError(e);
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

function store(next: Session | null): void {
  const signedIn = next !== null && next.member.id !== session?.member.id;
  session = next;
  if (next) sessionStorage.setItem(KEY, JSON.stringify(next));
  else sessionStorage.removeItem(KEY);
  if (signedIn) warmUp();
  else if (!next && early) {
    // Signed out before the screens took what was started: leave the room joined for them.
    void early.inbox?.then((view) => view.leave()).catch(() => {});
    early = null;
  }
  for (const listener of listeners) listener(next);
}

function preferredLanguage(): string {
  return session?.member.locale ?? navigator.language;
}

const SIGN_OUT_CODES: ReadonlySet<string> = new Set([ErrorCode.MEMBER_INACTIVE, ErrorCode.UNAUTHENTICATED]);

/**
 * The `fetch` the client uses: answers in the member's language; a refused refresh (the refresh
 * token is spent or the member is gone) or an answer `MEMBER_INACTIVE` / `UNAUTHENTICATED` signs
 * the tab out; a call refused `TOKEN_EXPIRED` (a clock off by more than the client's margin) is
 * refreshed and sent once more.
 */
async function consoleFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const request = new Request(input, init);
  request.headers.set("accept-language", preferredLanguage());
  const path = new URL(request.url).pathname;
  const again = path.startsWith("/auth/") ? null : request.clone();
  let res = await fetch(request);
  if (res.ok) return res;
  const code = (
    (await res
      .clone()
      .json()
      .catch(() => null)) as { code?: string } | null
  )?.code;
  if (path === "/auth/refresh" && res.status < 500) {
    queueMicrotask(signOut);
    return res;
  }
  if (again && code === ErrorCode.TOKEN_EXPIRED) {
    const fresh = await api.refresh();
    again.headers.set("authorization", `Bearer ${fresh.accessToken}`);
    res = await fetch(again);
  }
  if (code && SIGN_OUT_CODES.has(code) && (res.status === 401 || res.status === 403)) queueMicrotask(signOut);
  return res;
}

/** The tab's typed client. */
const api = new InboxClient({
  url: location.origin,
  ...(session ? { session } : {}),
  onSession: (next) => store(next as Session | null),
  fetch: consoleFetch,
});

/**
 * Started the moment a member signs in (or the page loads signed in), before anything renders: the
 * inbox room's join and the first page the inbox screen will ask for, in parallel. The screens take
 * them (once) instead of starting their own, so the first list request leaves with the login
 * answer, not after the page's first render and effects.
 */
let early: {
  memberId: string;
  at: number;
  inbox: Promise<InboxView> | null;
  page: { key: string; answer: Promise<ListAnswer> } | null;
} | null = null;

/** The inbox query the console shows first for `#/inbox/<view>/<status>` (or no hash): `mine` (the team tab waits for the room's `teamView`). */
function firstQuery(): ListQuery | null {
  const [, screen, , status] = location.hash.replace(/^#/, "").split("/");
  if (screen !== undefined && screen !== "" && screen !== "inbox") return null;
  const tab: Status = status === "pending" || status === "closed" ? status : "in_progress";
  return { view: "mine", status: tab, type: "all", sort: "last_message", q: "" };
}

function queryKey(q: ListQuery): string {
  return JSON.stringify([q.view, q.status, q.type ?? "all", q.sort ?? "last_message", q.q ?? "", q.cursor ?? null, q.limit ?? null]);
}

function warmUp(): void {
  if (!session) return;
  const query = firstQuery();
  // The page first: it is what the member waits for; the join (which may create the room and count
  // the member's lists on the server) follows a moment later.
  let page: { key: string; answer: Promise<ListAnswer> } | null = null;
  if (query) {
    const answer = listConversations(query);
    answer.catch(() => {});
    page = { key: queryKey(query), answer };
  }
  const inbox = api.openInbox();
  inbox.catch(() => {}); // taken (and its failure handled) by the inbox room hook
  early = { memberId: session.member.id, at: Date.now(), inbox, page };
}

/** The typed client the console runs on (docs/protocol.md §0), for typed HTTP calls: `client().http.GET(…)`. */
export function client(): InboxClient {
  return api;
}

export function currentSession(): Session | null {
  return session;
}
export function onSession(listener: (s: Session | null) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
export function signOut(): void {
  if (session) api.logout();
}

/** `POST /auth/login` (§1); the tokens are kept in sessionStorage (this tab only). */
export async function login(email: string, password: string): Promise<Session> {
  return (await guard(api.login(email, password))) as Session;
}

/** `POST /auth/refresh` (§1): one at a time (a refresh token is single use). Signs out when refused. */
export async function refreshSession(): Promise<Session> {
  if (!session) throw new ApiError(401, ErrorCode.UNAUTHENTICATED, "signed out");
  return (await guard(api.refresh())) as Session;
}

/** An access token good for at least another minute. */
export async function freshToken(): Promise<string> {
  if (!session) throw new ApiError(401, ErrorCode.UNAUTHENTICATED, "signed out");
  return guard(api.accessToken());
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
type ListAnswer = { items: ListItem[]; nextCursor: string | null };

/** `GET /api/v2/conversations` (§7.3). */
export function listConversations(q: ListQuery): Promise<ListAnswer> {
  return guard(
    api.listConversations({
      view: q.view,
      status: q.status,
      type: q.type ?? "all",
      sort: q.sort ?? "last_message",
      ...(q.q ? { q: q.q } : {}),
      ...(q.cursor ? { cursor: q.cursor } : {}),
      ...(q.limit ? { limit: q.limit } : {}),
    }),
  );
}

export type { Candidate };
/** `GET /api/v2/conversations/{id}/candidates` (§7.4): active members who are not participants. */
export async function listCandidates(conversationId: string, q: string): Promise<{ items: Candidate[] }> {
  const query = { limit: 20, ...(q.trim() ? { q: q.trim() } : {}) };
  return guard(api.http.GET("/api/v2/conversations/{id}/candidates", { params: { path: { id: conversationId }, query } }).then(unwrap));
}

/** `GET /api/v2/notifications` (§7.1), newest first. */
export function listNotices(): Promise<{ items: Notice[]; unread: number; nextBefore: number | null }> {
  return guard(api.http.GET("/api/v2/notifications", { params: { query: { limit: 50 } } }).then(unwrap));
}
/** `POST /api/v2/notifications/read` with `{ all: true }`. */
export function markAllNoticesRead(): Promise<{ changed: number; unread: number }> {
  return guard(api.http.POST("/api/v2/notifications/read", { body: { all: true } }).then(unwrap));
}

/**
 * The first page of this list when it was asked for at sign-in (once; null otherwise): the answer may
 * still be on its way. Its read can precede the inbox room's subscription (it left in parallel with
 * the join), so the screen reloads it quietly once the room has joined (§8.7).
 */
export function takeEarlyPage(q: ListQuery): Promise<ListAnswer> | null {
  const page = early?.memberId === session?.member.id ? early?.page : null;
  // Only right after sign-in: a page read long ago is not the list any more.
  if (!early || !page || page.key !== queryKey(q) || Date.now() - early.at > 10_000) return null;
  early.page = null;
  return page.answer;
}

/** The member's inbox room (§3, §8), resolved once its first state has arrived; it rejoins by itself. */
export function openInbox(): Promise<InboxView> {
  if (!session) return Promise.reject(new ApiError(401, ErrorCode.UNAUTHENTICATED, "signed out"));
  const started = early?.memberId === session.member.id ? early.inbox : null;
  if (early) early.inbox = null;
  return guard(started ?? api.openInbox());
}

/** A conversation (§2), resolved once its first state has arrived: typed actions, timeline, status log. */
export function openConversation(conversationId: string, view: View): Promise<ConversationView> {
  return guard(api.openConversation(conversationId, view, { locale: session?.member.locale ?? "zh-TW" }));
}

/**
 * A handle for the browser's devtools (and the browser tests): the typed client and the open
 * conversation's view, as `inboxConsole` — e.g. `await inboxConsole.conversation.close()` shows what
 * the server answers to an action the screen does not offer.
 */
export const devtools: { client: InboxClient; conversation: ConversationView | null } = { client: api, conversation: null };
(globalThis as { inboxConsole?: typeof devtools }).inboxConsole = devtools;

// A page loaded signed in (a reload): start at once too.
if (session) warmUp();
