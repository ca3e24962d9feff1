/**
 * The dashboard's, bulk actions' and administration's HTTP calls (docs/protocol.md §7.5–§7.7), typed
 * from the OpenAPI document (`client/openapi.d.ts`, generated) through openapi-fetch, with the
 * session's access token (api.ts); and the team room (§9) joined with the SDK's browser build.
 */
import { Client, type Room } from "@colyseus/sdk";
import createClient from "openapi-fetch";
import type { components, paths } from "../../client/openapi.d.ts";
import { currentSession, freshToken, signOut } from "./api.ts";

type Schemas = components["schemas"];
export type Job = Schemas["Job"];
export type JobWithItems = Schemas["JobWithItems"];
export type JobItem = Schemas["JobItem"];
export type AdminMember = Schemas["Member"];
export type NewMember = Schemas["NewMember"];
export type MemberChange = paths["/api/v2/members/{id}"]["patch"]["requestBody"]["content"]["application/json"];
export type Workspace = Schemas["Workspace"];
export type WorkspaceSettings = Schemas["WorkspaceSettings"];
export type SettingsChange = paths["/api/v2/workspace/settings"]["patch"]["requestBody"]["content"]["application/json"];

/** A refused HTTP call: the status, the stable code, the server's localized message and `detail` (e.g. `issues`). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly detail: { issues?: string[]; conversationIds?: string[]; memberId?: string } | undefined,
  ) {
    super(message);
  }
  /** The message with the input problems of a 400 (`"field: problem"`), as the server gave them. */
  get full(): string {
    return this.detail?.issues?.length ? `${this.message} (${this.detail.issues.join("; ")})` : this.message;
  }
}

const http = createClient<paths>({ baseUrl: typeof location === "undefined" ? "" : location.origin });
http.use({
  onRequest: async ({ request }) => {
    request.headers.set("authorization", `Bearer ${await freshToken()}`);
    request.headers.set("accept-language", currentSession()?.member.locale ?? navigator.language);
    return request;
  },
});

type Answer<T> = { data?: T; error?: unknown; response: Response };
function unwrap<T>(answer: Answer<T>): T {
  if (answer.error !== undefined || !answer.response.ok) {
    const body = answer.error as { code?: string; message?: string; detail?: HttpError["detail"] } | undefined;
    if (body?.code === "MEMBER_INACTIVE" || body?.code === "UNAUTHENTICATED") signOut();
    throw new HttpError(answer.response.status, body?.code ?? "INTERNAL", body?.message ?? answer.response.statusText, body?.detail);
  }
  return answer.data as T;
}

/** A text for any failure: the server's message (with its input problems) or the exception's. */
export function problem(err: unknown): string {
  return err instanceof HttpError ? err.full : err instanceof Error ? err.message : String(err);
}

// ---- bulk actions and jobs (§7.5) ----------------------------------------------------------------

export type BulkKind = "close" | "reopen" | "transfer";
export interface BulkRequest {
  kind: BulkKind;
  conversationIds: string[];
  view: "mine" | "team";
  /** Transfer only: the new follower. */
  memberId?: string;
}

/** A new `Idempotency-Key` for one submission: a retry of the same submission reuses it. */
export function idempotencyKey(): string {
  return typeof crypto !== "undefined" && "randomUUID" in crypto
    ? crypto.randomUUID()
    : `web-${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

/** `POST /api/v2/bulk/{close,reopen,transfer}` → the job (202), with the submission's `Idempotency-Key`. */
export async function startBulk(req: BulkRequest, key: string): Promise<Job> {
  const params = { header: { "idempotency-key": key } };
  const body = { conversationIds: req.conversationIds, view: req.view };
  if (req.kind === "transfer") {
    return unwrap(await http.POST("/api/v2/bulk/transfer", { params, body: { ...body, memberId: req.memberId ?? "" } })).job;
  }
  if (req.kind === "reopen") return unwrap(await http.POST("/api/v2/bulk/reopen", { params, body })).job;
  return unwrap(await http.POST("/api/v2/bulk/close", { params, body })).job;
}

/** `GET /api/v2/jobs/{id}`: the job with its items' outcomes (refusals in the reader's locale). */
export async function getJob(id: string): Promise<JobWithItems> {
  return unwrap(await http.GET("/api/v2/jobs/{id}", { params: { path: { id } } })).job;
}

/**
 * The `job` messages of the member's inbox room (§3, §7.5), handed on by inboxRoom.ts. The newest
 * of each job is kept, because a short job's messages can arrive before its `202` answer does.
 */
const latestJobs = new Map<string, Job>();
const jobListeners = new Set<(job: Job) => void>();
export function publishJob(job: Job): void {
  const held = latestJobs.get(job.id);
  if (held && held.processed > job.processed) return;
  latestJobs.set(job.id, job);
  if (latestJobs.size > 50) latestJobs.delete(latestJobs.keys().next().value!);
  for (const listener of jobListeners) listener(job);
}
export function onJob(listener: (job: Job) => void): () => void {
  jobListeners.add(listener);
  return () => jobListeners.delete(listener);
}
export function lastJobMessage(id: string): Job | undefined {
  return latestJobs.get(id);
}

// ---- members (§7.6) -----------------------------------------------------------------------------

export async function listMembers(): Promise<AdminMember[]> {
  return unwrap(await http.GET("/api/v2/members", {})).items;
}
export async function createMember(body: NewMember): Promise<AdminMember> {
  return unwrap(await http.POST("/api/v2/members", { body }));
}
export async function changeMember(id: string, body: MemberChange): Promise<AdminMember> {
  return unwrap(await http.PATCH("/api/v2/members/{id}", { params: { path: { id } }, body }));
}
export async function deactivateMember(id: string): Promise<Job> {
  return unwrap(await http.POST("/api/v2/members/{id}/deactivate", { params: { path: { id } } })).job;
}
export async function reactivateMember(id: string): Promise<AdminMember> {
  return unwrap(await http.POST("/api/v2/members/{id}/reactivate", { params: { path: { id } } }));
}
export async function deleteMember(id: string): Promise<Job> {
  return unwrap(await http.DELETE("/api/v2/members/{id}", { params: { path: { id } } })).job;
}

// ---- workspace settings (§7.7) --------------------------------------------------------------------

export async function getWorkspace(): Promise<Workspace> {
  return unwrap(await http.GET("/api/v2/workspace", {}));
}
export async function changeSettings(body: SettingsChange): Promise<Workspace> {
  return unwrap(await http.PATCH("/api/v2/workspace/settings", { body }));
}

// ---- the team room (§9) -------------------------------------------------------------------------

export interface MemberLoad {
  id: string;
  name: string;
  role: string;
  status: string;
  online: boolean;
  following: number;
  collaborating: number;
}
export interface OverdueItem {
  conversationId: string;
  customerName: string;
  channel: string;
  status: string;
  followerId: string;
  waitingSince: number;
}
/** `TeamState` (§9.2) as plain data. */
export interface TeamSnapshot {
  workspaceId: string;
  counts: Record<string, number>;
  members: Record<string, MemberLoad>;
  overdue: OverdueItem[];
  overdueTotal: number;
  overdueAfterMinutes: number;
  csatAnswered: number;
  csatAverage: number;
}

/** A refused join (§9.1): the SDK's number and the code from `"CODE: text"`. */
export function joinRefusal(err: unknown): HttpError {
  const e = err as { code?: number; message?: string };
  const message = e?.message ?? String(err);
  const match = /^([A-Z_]+): (.*)$/s.exec(message);
  return new HttpError(typeof e?.code === "number" ? e.code : 0, match?.[1] ?? "INTERNAL", match?.[2] ?? message, undefined);
}

/** Joins the workspace's team room (TEAM_VIEWERS only) and resolves once its first state has arrived. */
export async function joinTeam(workspaceId: string): Promise<Room> {
  const client = new Client(location.origin);
  client.auth.token = await freshToken();
  let room: Room;
  try {
    room = await client.joinOrCreate("team", { workspaceId });
  } catch (err) {
    throw joinRefusal(err);
  }
  room.onMessage("result", () => {}); // the room takes no actions (§9.1): registered so the SDK never warns
  await new Promise<void>((resolve, reject) => {
    const ready = () => (room.state as { workspaceId?: string } | undefined)?.workspaceId === workspaceId;
    if (ready()) return resolve();
    const onState = () => {
      if (!ready()) return;
      room.onStateChange.remove(onState);
      resolve();
    };
    room.onStateChange(onState);
    room.onLeave((code) => reject(new HttpError(code, "CLOSED", `closed (${code})`, undefined)));
  });
  return room;
}

/** The room's state as plain data. */
export function teamSnapshot(room: Room): TeamSnapshot {
  return (room.state as { toJSON(): TeamSnapshot }).toJSON();
}
