/**
 * The dashboard's, bulk actions' and administration's calls (docs/protocol.md §7.5–§7.7, §9) through
 * the tab's typed client (api.ts → client/): its typed HTTP methods (generated from the OpenAPI
 * document; token, refresh, language and sign-out handled by the client's fetch) and its `TeamView`.
 */
import {
  type BulkKind,
  ApiError as ClientApiError,
  type components,
  JoinError,
  type MemberChange,
  type NewMember,
  type SettingsChange,
  type TeamView,
} from "../../client/index.ts";
import { client } from "./api.ts";

type Schemas = components["schemas"];
export type Job = Schemas["Job"];
/** A job read with its items (`items=all`, the default: then they are always there). */
export type JobWithItems = Schemas["JobWithItems"] & { items: NonNullable<Schemas["JobWithItems"]["items"]> };
export type JobItem = Schemas["JobItem"];
export type AdminMember = Schemas["Member"];
export type Workspace = Schemas["Workspace"];
export type WorkspaceSettings = Schemas["WorkspaceSettings"];
export type { BulkKind, MemberChange, NewMember, SettingsChange };

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

/** Any failure of the client as an `HttpError` (an HTTP refusal with its body, a refused join); other errors as they are. */
function refusal(err: unknown): unknown {
  if (err instanceof ClientApiError) {
    const body = err.body as { message?: string; detail?: HttpError["detail"] } | undefined;
    return new HttpError(err.status, err.code, body?.message ?? err.message, body?.detail);
  }
  if (err instanceof JoinError) return new HttpError(err.status, err.code, err.message.replace(/^[A-Z_]+: /, ""), undefined);
  return err;
}

/** Runs a client call; a refusal comes out as an `HttpError`. */
async function typed<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw refusal(err);
  }
}

/** A text for any failure: the server's message (with its input problems) or the exception's. */
export function problem(err: unknown): string {
  return err instanceof HttpError ? err.full : err instanceof Error ? err.message : String(err);
}

// ---- bulk actions and jobs (§7.5) ----------------------------------------------------------------

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
export function startBulk(req: BulkRequest, key: string): Promise<Job> {
  const { kind, ...body } = req;
  // A transfer without a member is the server's to refuse (with its message), as any other bad input.
  return typed(() => client().startBulk(kind, kind === "transfer" ? { ...body, memberId: body.memberId ?? "" } : body, key));
}

/** `GET /api/v2/jobs/{id}`: the job with its items' outcomes (refusals in the reader's locale). */
export async function getJob(id: string): Promise<JobWithItems> {
  const job = await typed(() => client().getJob(id));
  return { ...job, items: job.items ?? [] };
}

/** `GET /api/v2/jobs/{id}?items=none`: the job's progress alone. */
export function getJobProgress(id: string): Promise<Job> {
  return typed(() => client().getJob(id, { items: "none" }));
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

export function listMembers(): Promise<AdminMember[]> {
  return typed(() => client().listMembers());
}
export function createMember(body: NewMember): Promise<AdminMember> {
  return typed(() => client().createMember(body));
}
export function changeMember(id: string, body: MemberChange): Promise<AdminMember> {
  return typed(() => client().updateMember(id, body));
}
export function deactivateMember(id: string): Promise<Job> {
  return typed(() => client().deactivateMember(id));
}
export function reactivateMember(id: string): Promise<AdminMember> {
  return typed(() => client().reactivateMember(id));
}
export function deleteMember(id: string): Promise<Job> {
  return typed(() => client().deleteMember(id));
}

// ---- workspace settings (§7.7) --------------------------------------------------------------------

export function getWorkspace(): Promise<Workspace> {
  return typed(() => client().getWorkspace());
}
export function changeSettings(body: SettingsChange): Promise<Workspace> {
  return typed(() => client().updateSettings(body));
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

/** Opens the workspace's team room (TEAM_VIEWERS only) through the client's `TeamView`, resolved once its first state has arrived; it rejoins by itself. */
export function openTeam(): Promise<TeamView> {
  return typed(() => client().openTeam());
}

/** The team room's state as plain data. */
export function teamSnapshot(team: TeamView): TeamSnapshot {
  return (team.state as unknown as { toJSON(): TeamSnapshot }).toJSON();
}
