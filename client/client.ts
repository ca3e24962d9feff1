import { type Room, Client as SdkClient } from "@colyseus/sdk";
import createFetchClient, { type Client as FetchClient, type Middleware } from "openapi-fetch";
import type { View } from "../domain/sets.ts";
import { type ConversationOptions, ConversationView } from "./conversation.ts";
import { ApiError, JoinError } from "./errors.ts";
import { InboxView } from "./inbox.ts";
import type { Joiner } from "./link.ts";
import type { ListQuery, LoadedPage } from "./lists.ts";
import type { paths } from "./openapi.d.ts";
import { TeamView } from "./team.ts";
import type { ListItem, SignedInMember, Tokens } from "./types.ts";

/** A signed-in session: the tokens of `/auth/login` or `/auth/refresh` and when the access token expires. */
export interface Session {
  readonly accessToken: string;
  readonly refreshToken: string;
  /** Milliseconds since the epoch (client clock) when the access token stops working. */
  readonly expiresAt: number;
  readonly member: SignedInMember;
}

export interface ClientOptions {
  /** The server: `http://HOST:PORT` (or https); rooms use the same host over ws(s). */
  readonly url: string;
  /** A session kept from before (e.g. in storage), instead of `login`. */
  readonly session?: Session;
  /** Called with every new session (login, refresh) and with null on `logout`: persist it if you like. */
  readonly onSession?: (session: Session | null) => void;
  /** Refresh the access token when it has less than this left (default 60 s). */
  readonly refreshBeforeMs?: number;
  /** How long a view keeps trying to rejoin after a loss (default 60 s). */
  readonly rejoinForMs?: number;
  /** The `fetch` to use (default the global one). */
  readonly fetch?: typeof fetch;
}

type JsonBody<T> = T extends { requestBody?: { content: { "application/json": infer B } } } ? B : never;
/** The bulk actions of docs/protocol.md §7.5. */
export type BulkKind = "close" | "reopen" | "transfer";
/** What a bulk action applies to: conversations seen in a view; `memberId` (the new follower) for a transfer. */
export interface BulkBody {
  readonly conversationIds: string[];
  readonly view: View;
  readonly memberId?: string;
}
/** The body of `POST /api/v2/members`. */
export type NewMember = JsonBody<paths["/api/v2/members"]["post"]>;
/** The body of `PATCH /api/v2/members/{id}`. */
export type MemberChange = JsonBody<paths["/api/v2/members/{id}"]["patch"]>;
/** The body of `PATCH /api/v2/workspace/settings`. */
export type SettingsChange = JsonBody<paths["/api/v2/workspace/settings"]["patch"]>;

/** The shape of every openapi-fetch answer: data on 2xx, the error body otherwise. */
type FetchResult<T> = { data?: T; error?: unknown; response: Response };

/** The data of an openapi-fetch answer, or an `ApiError` with the answer's status and stable code. */
export function unwrap<T>(result: FetchResult<T>): T {
  if (result.error !== undefined || !result.response.ok) {
    const body = result.error as { code?: string; message?: string } | undefined;
    throw new ApiError(
      result.response.status,
      (body?.code ?? "UNKNOWN") as ApiError["code"],
      body?.message ?? result.response.statusText,
      body,
    );
  }
  return result.data as T;
}

/**
 * The typed client of the collaborative inbox (docs/protocol.md §0): sign-in and token refresh,
 * typed HTTP calls (`http`, generated from the OpenAPI document), and the rooms: conversations,
 * the member's inbox, the team dashboard. Runs in browsers and in Node (22+: global `fetch` and `WebSocket`).
 */
export class InboxClient {
  /** Every HTTP route, typed from docs/openapi.json (openapi-fetch); the access token is added and refreshed for you. */
  readonly http: FetchClient<paths>;
  /** The Colyseus SDK client the rooms are joined with. */
  readonly sdk: SdkClient;
  private current: Session | null;
  private refreshing: Promise<Session> | null = null;
  private readonly refreshBeforeMs: number;
  private readonly joiner: Joiner;

  constructor(private readonly options: ClientOptions) {
    this.current = options.session ?? null;
    this.refreshBeforeMs = options.refreshBeforeMs ?? 60_000;
    this.http = createFetchClient<paths>({ baseUrl: options.url.replace(/\/$/, ""), ...(options.fetch ? { fetch: options.fetch } : {}) });
    this.http.use(this.authMiddleware());
    this.sdk = new SdkClient(options.url);
    const rejoinForMs = options.rejoinForMs ?? 60_000;
    this.joiner = {
      join: (name, opts) => this.join(name, opts),
      rejoinDelay: (attempt) => Math.min(5_000, 250 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2),
      rejoinForMs,
    };
  }

  /** The current session, or null before `login`. */
  get session(): Session | null {
    return this.current;
  }

  /** The signed-in member. */
  get member(): SignedInMember {
    if (!this.current) throw new Error("not signed in: call login() first");
    return this.current.member;
  }

  private setSession(tokens: Tokens): Session {
    this.current = {
      accessToken: tokens.accessToken,
      refreshToken: tokens.refreshToken,
      expiresAt: Date.now() + tokens.expiresIn * 1000,
      member: tokens.member,
    };
    this.options.onSession?.(this.current);
    return this.current;
  }

  /** `POST /auth/login` (docs/protocol.md §1). Throws `ApiError` (`INVALID_CREDENTIALS`, `RATE_LIMITED`, …). */
  async login(email: string, password: string): Promise<Session> {
    return this.setSession(unwrap(await this.http.POST("/auth/login", { body: { email, password } })));
  }

  /**
   * `POST /auth/refresh`: new tokens for the refresh token (single use: the old one stops working).
   * Concurrent calls share one refresh. Done for you before a token runs out.
   */
  refresh(): Promise<Session> {
    if (!this.current) return Promise.reject(new Error("not signed in: call login() first"));
    const refreshToken = this.current.refreshToken;
    this.refreshing ??= this.http
      .POST("/auth/refresh", { body: { refreshToken } })
      .then((r) => this.setSession(unwrap(r)))
      .finally(() => {
        this.refreshing = null;
      });
    return this.refreshing;
  }

  /** An access token good for at least `refreshBeforeMs` (refreshed first when it is not). */
  async accessToken(): Promise<string> {
    if (!this.current) throw new Error("not signed in: call login() first");
    if (this.current.expiresAt - Date.now() < this.refreshBeforeMs) await this.refresh();
    return this.current.accessToken;
  }

  /** Forgets the session (the server keeps no sign-in state beyond the tokens). */
  logout(): void {
    this.current = null;
    this.options.onSession?.(null);
  }

  private authMiddleware(): Middleware {
    return {
      onRequest: async ({ request }) => {
        if (new URL(request.url).pathname.startsWith("/auth/")) return undefined;
        if (!this.current) return undefined;
        request.headers.set("Authorization", `Bearer ${await this.accessToken()}`);
        return request;
      },
    };
  }

  /** Joins a room with a fresh token; a token that expired meanwhile is refreshed and the join tried once more. */
  private async join<S>(roomName: string, options: Record<string, unknown>): Promise<Room<any, S>> {
    for (let attempt = 0; ; attempt++) {
      this.sdk.auth.token = await this.accessToken();
      try {
        return await this.sdk.joinOrCreate<S>(roomName, options);
      } catch (e) {
        const refused = JoinError.from(e);
        if (refused.code === "TOKEN_EXPIRED" && attempt === 0) {
          await this.refresh();
          continue;
        }
        throw refused;
      }
    }
  }

  // ---- rooms ----------------------------------------------------------------------------------

  /**
   * Opens a conversation (docs/protocol.md §2) and resolves once its first state has arrived
   * (`view.state.id === id`). Rejects with `JoinError` (`NOT_FOUND`, `VIEW_NOT_ALLOWED`, …).
   */
  openConversation(conversationId: string, view: View = "mine", options: ConversationOptions = {}): Promise<ConversationView> {
    const locale = options.locale ?? (this.current?.member.locale === "en" ? "en" : "zh-TW");
    return new ConversationView(this.joiner, conversationId, view, { ...options, locale }).open();
  }

  /** Opens the member's inbox room (docs/protocol.md §3, §8), resolving once its first state has arrived. */
  openInbox(): Promise<InboxView> {
    return new InboxView(this.joiner, this.member.id).open();
  }

  /** Opens the workspace's team room (docs/protocol.md §9; TEAM_VIEWERS only), resolving once its first state has arrived. */
  openTeam(): Promise<TeamView> {
    return new TeamView(this.joiner, this.member.workspaceId).open();
  }

  // ---- HTTP shortcuts (all through `http`) ----------------------------------------------------

  /** `GET /api/v2/me`. */
  async me() {
    return unwrap(await this.http.GET("/api/v2/me"));
  }

  /** `GET /api/v2/conversations`: one page of a list. */
  async listConversations(query: ListQuery & { cursor?: string; limit?: number }) {
    return unwrap(await this.http.GET("/api/v2/conversations", { params: { query } }));
  }

  /** `GET /api/v2/conversations/counts`. */
  async getConversationCounts() {
    return unwrap(await this.http.GET("/api/v2/conversations/counts"));
  }

  /** `GET /api/v2/jobs/{id}`: a bulk job with its items' outcomes (docs/protocol.md §7.5); `items: "none"` for its progress alone. */
  async getJob(id: string, opts: { items?: "all" | "none" } = {}) {
    return unwrap(await this.http.GET("/api/v2/jobs/{id}", { params: { path: { id }, query: { items: opts.items ?? "all" } } })).job;
  }

  /**
   * `POST /api/v2/bulk/{close,reopen,transfer}` (docs/protocol.md §7.5): starts a job and resolves
   * with it (202). `idempotencyKey` names the submission: a retry with the same key gives the same job.
   */
  async startBulk(kind: BulkKind, body: BulkBody, idempotencyKey: string) {
    const params = { header: { "idempotency-key": idempotencyKey } };
    const common = { conversationIds: body.conversationIds, view: body.view };
    if (kind === "transfer") {
      if (body.memberId === undefined) throw new TypeError("startBulk: a transfer needs memberId");
      return unwrap(await this.http.POST("/api/v2/bulk/transfer", { params, body: { ...common, memberId: body.memberId } })).job;
    }
    if (kind === "reopen") return unwrap(await this.http.POST("/api/v2/bulk/reopen", { params, body: common })).job;
    return unwrap(await this.http.POST("/api/v2/bulk/close", { params, body: common })).job;
  }

  /** `GET /api/v2/members` (admin, docs/protocol.md §7.6): every member of the workspace. */
  async listMembers() {
    return unwrap(await this.http.GET("/api/v2/members")).items;
  }

  /** `POST /api/v2/members` (admin). */
  async createMember(body: NewMember) {
    return unwrap(await this.http.POST("/api/v2/members", { body }));
  }

  /** `PATCH /api/v2/members/{id}` (admin): name, role, locale, password. */
  async updateMember(id: string, body: MemberChange) {
    return unwrap(await this.http.PATCH("/api/v2/members/{id}", { params: { path: { id } }, body }));
  }

  /** `POST /api/v2/members/{id}/deactivate` (admin): resolves with the job moving their conversations. */
  async deactivateMember(id: string) {
    return unwrap(await this.http.POST("/api/v2/members/{id}/deactivate", { params: { path: { id } } })).job;
  }

  /** `POST /api/v2/members/{id}/reactivate` (admin). */
  async reactivateMember(id: string) {
    return unwrap(await this.http.POST("/api/v2/members/{id}/reactivate", { params: { path: { id } } }));
  }

  /** `DELETE /api/v2/members/{id}` (admin): resolves with the job moving their conversations. */
  async deleteMember(id: string) {
    return unwrap(await this.http.DELETE("/api/v2/members/{id}", { params: { path: { id } } })).job;
  }

  /** `GET /api/v2/workspace` (docs/protocol.md §7.7): the workspace and its settings. */
  async getWorkspace() {
    return unwrap(await this.http.GET("/api/v2/workspace"));
  }

  /** `PATCH /api/v2/workspace/settings` (admin): changes some settings, resolves with the workspace. */
  async updateSettings(body: SettingsChange) {
    return unwrap(await this.http.PATCH("/api/v2/workspace/settings", { body }));
  }

  /**
   * Reads the first pages of a list until `atLeast` rows (or its end), as a `LoadedPage` ready for
   * `applyListDelta`.
   */
  async loadPage(query: ListQuery, atLeast = 50): Promise<LoadedPage> {
    const items: ListItem[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await this.listConversations({
        ...query,
        limit: Math.min(100, Math.max(1, atLeast - items.length)),
        ...(cursor ? { cursor } : {}),
      });
      items.push(...page.items);
      if (!page.nextCursor) return { query, items, complete: true };
      if (items.length >= atLeast) return { query, items, complete: false };
      cursor = page.nextCursor;
    }
  }
}
