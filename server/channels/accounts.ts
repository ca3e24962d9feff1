import { createHash, randomUUID } from "node:crypto";
import { z } from "zod";
import {
  type ChannelAccountRow,
  insertChannelAccount,
  listChannelAccounts,
  selectChannelAccount,
  updateChannelAccount,
} from "../../db/channels.ts";
import type { Db } from "../../db/client.ts";
import { ChannelStatus, type ChannelType } from "../../domain/channels.ts";
import { DomainError, ErrorCode } from "../../domain/errors.ts";
import { decryptSecrets, encryptSecrets, secretsKeyOf } from "./secrets.ts";
import type { ChannelAccount } from "./types.ts";
import { ENCODING_AES_KEY } from "./wechat/crypto.ts";

/**
 * Channel accounts with their credentials decrypted, for the providers' webhooks (signature
 * checks) and the delivery worker (send tokens). Never log what these return.
 */

/** The account as the providers use it: credentials decrypted with the server's key. */
export function toChannelAccount(db: Db, row: ChannelAccountRow): ChannelAccount {
  return {
    id: row.id,
    workspaceId: row.workspaceId,
    type: row.type,
    status: row.status,
    settings: row.settings,
    secrets: row.secretsEnc ? decryptSecrets(secretsKeyOf(db), row.secretsEnc) : {},
  };
}

/** A channel account by id (of `type` when given), enabled or not; null when there is none. */
export async function loadAccount(db: Db, channelId: string, type?: ChannelType): Promise<ChannelAccount | null> {
  const row = await selectChannelAccount(db, channelId, type);
  return row ? toChannelAccount(db, row) : null;
}

/** Like `loadAccount`, but null when the account is disabled: its webhooks answer 404. */
export async function loadActiveAccount(db: Db, channelId: string, type?: ChannelType): Promise<ChannelAccount | null> {
  const row = await selectChannelAccount(db, channelId, type);
  return row && row.status === ChannelStatus.active ? toChannelAccount(db, row) : null;
}

// ---- administration (`/api/v2/channels`) ------------------------------------------------------

const Secret = z.string().trim().min(1).max(2000);
const SettingId = z.string().trim().min(1).max(200);

/**
 * Per type: the credentials (write-only, encrypted at rest) and the non-secret settings an account
 * needs. Webchat's `secret` is kept only as its SHA-256 (the endpoint compares hashes).
 */
export const CHANNEL_SCHEMAS = {
  line: {
    credentials: z.object({ channelSecret: Secret, channelAccessToken: Secret }).strict(),
    settings: z.object({}).strict(),
  },
  messenger: {
    credentials: z.object({ appSecret: Secret, pageAccessToken: Secret, verifyToken: Secret }).strict(),
    settings: z.object({ pageId: SettingId }).strict(),
  },
  instagram: {
    credentials: z.object({ appSecret: Secret, pageAccessToken: Secret, verifyToken: Secret }).strict(),
    settings: z.object({ pageId: SettingId }).strict(),
  },
  whatsapp: {
    credentials: z.object({ appSecret: Secret, accessToken: Secret, verifyToken: Secret }).strict(),
    settings: z.object({ phoneNumberId: SettingId }).strict(),
  },
  wechat: {
    credentials: z
      .object({
        appId: Secret,
        appSecret: Secret,
        token: Secret,
        encodingAESKey: z
          .string()
          .regex(ENCODING_AES_KEY, "43 characters of A-Z, a-z, 0-9 (the EncodingAESKey of the Official Account platform)")
          .optional(),
      })
      .strict(),
    settings: z.object({}).strict(),
  },
  webchat: {
    credentials: z.object({ secret: z.string().min(16).max(200) }).strict(),
    settings: z
      .object({
        /**
         * Where the widget may be embedded: when set, a visitor token is issued only to a browser
         * whose `Origin` is one of these (or the server's own, for its `/widget` page).
         */
        allowedOrigins: z
          .array(
            z
              .string()
              .trim()
              .url()
              .regex(/^https?:\/\/[^/]+$/, "an origin: scheme and host, no path"),
          )
          .max(50)
          .optional(),
      })
      .strict(),
  },
} as const satisfies Record<ChannelType, { credentials: z.ZodType; settings: z.ZodType }>;

/** A channel account as the API answers it: never a secret, only which credentials are set. */
export interface ChannelView {
  readonly id: string;
  readonly type: ChannelType;
  readonly name: string;
  readonly status: ChannelStatus;
  readonly settings: Record<string, unknown>;
  readonly hasCredentials: boolean;
  /** The names of the credentials that are set (e.g. `channelSecret`), never their values. */
  readonly credentialKeys: string[];
  /** Where the provider sends this account's events (register it with the provider). */
  readonly webhookUrl: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** The path a provider posts this account's events to. */
export function webhookPath(type: ChannelType, id: string): string {
  return type === "webchat" ? `/channels/webchat/${encodeURIComponent(id)}/messages` : `/webhooks/${type}/${encodeURIComponent(id)}`;
}

export interface AccountService {
  readonly db: Db;
  readonly now: () => Date;
  /** The server's public base URL (no trailing slash). */
  readonly publicUrl: () => string;
}

function keysOf(db: Db, row: ChannelAccountRow): string[] {
  if (row.type === "webchat") return row.secretHash ? ["secret"] : [];
  return row.secretsEnc ? Object.keys(decryptSecrets(secretsKeyOf(db), row.secretsEnc)).sort() : [];
}

function view(svc: AccountService, row: ChannelAccountRow): ChannelView {
  const credentialKeys = keysOf(svc.db, row);
  return {
    id: row.id,
    type: row.type,
    name: row.name,
    status: row.status,
    settings: row.settings,
    hasCredentials: credentialKeys.length > 0,
    credentialKeys,
    webhookUrl: `${svc.publicUrl()}${webhookPath(row.type, row.id)}`,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** Parses `value` with `schema`, or refuses with INVALID_PAYLOAD naming the fields under `at` (never their values). */
function parseOr400<T extends z.ZodType>(schema: T, value: unknown, at: string): z.infer<T> {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  throw new DomainError(ErrorCode.INVALID_PAYLOAD, { issues: r.error.issues.map((i) => `${[at, ...i.path].join(".")}: ${i.message}`) });
}

/** What is stored for a type's credentials: encrypted JSON, or (Webchat) the secret's hash. */
function storedCredentials(
  db: Db,
  type: ChannelType,
  credentials: Record<string, string>,
): { secretsEnc: string | null; secretHash: string | null } {
  if (type === "webchat")
    return {
      secretsEnc: null,
      secretHash: createHash("sha256")
        .update(credentials.secret ?? "")
        .digest("hex"),
    };
  return { secretsEnc: encryptSecrets(secretsKeyOf(db), credentials), secretHash: null };
}

/** Connects a channel account in the admin's workspace (active at once). */
export async function createAccount(
  svc: AccountService,
  workspaceId: string,
  input: { readonly type: ChannelType; readonly name: string; readonly settings?: unknown; readonly credentials: unknown },
): Promise<ChannelView> {
  const schema = CHANNEL_SCHEMAS[input.type];
  const settings = parseOr400(schema.settings, input.settings, "settings");
  const credentials = parseOr400(schema.credentials, input.credentials, "credentials") as Record<string, string>;
  const row = await insertChannelAccount(svc.db, {
    id: randomUUID(),
    workspaceId,
    type: input.type,
    name: input.name,
    settings,
    ...storedCredentials(svc.db, input.type, credentials),
  });
  return view(svc, row);
}

/** The workspace's channel accounts. */
export async function listAccounts(svc: AccountService, workspaceId: string): Promise<ChannelView[]> {
  return (await listChannelAccounts(svc.db, workspaceId)).map((r) => view(svc, r));
}

async function ownRow(svc: AccountService, workspaceId: string, id: string): Promise<ChannelAccountRow> {
  const row = await selectChannelAccount(svc.db, id);
  // Another workspace's account is as unknown as a missing one.
  if (!row || row.workspaceId !== workspaceId) throw new DomainError(ErrorCode.NOT_FOUND);
  return row;
}

/** One of the workspace's channel accounts; NOT_FOUND for another workspace's. */
export async function getAccount(svc: AccountService, workspaceId: string, id: string): Promise<ChannelView> {
  return view(svc, await ownRow(svc, workspaceId, id));
}

/** Renames an account, replaces its settings, or replaces its credentials whole (validated for its type). */
export async function updateAccount(
  svc: AccountService,
  workspaceId: string,
  id: string,
  patch: { readonly name?: string; readonly settings?: unknown; readonly credentials?: unknown },
): Promise<ChannelView> {
  const row = await ownRow(svc, workspaceId, id);
  const schema = CHANNEL_SCHEMAS[row.type];
  const changes: Parameters<typeof updateChannelAccount>[3] = {
    ...(patch.name !== undefined ? { name: patch.name } : {}),
    ...(patch.settings !== undefined ? { settings: parseOr400(schema.settings, patch.settings, "settings") } : {}),
    ...(patch.credentials !== undefined
      ? storedCredentials(svc.db, row.type, parseOr400(schema.credentials, patch.credentials, "credentials") as Record<string, string>)
      : {}),
  };
  const updated = await updateChannelAccount(svc.db, workspaceId, id, changes, svc.now());
  if (!updated) throw new DomainError(ErrorCode.NOT_FOUND);
  return view(svc, updated);
}

/** Disables (its webhooks answer 404, its outbound messages are held) or enables an account. */
export async function setAccountStatus(svc: AccountService, workspaceId: string, id: string, status: ChannelStatus): Promise<ChannelView> {
  await ownRow(svc, workspaceId, id);
  const updated = await updateChannelAccount(svc.db, workspaceId, id, { status }, svc.now());
  if (!updated) throw new DomainError(ErrorCode.NOT_FOUND);
  return view(svc, updated);
}
