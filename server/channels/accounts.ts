import { type ChannelAccountRow, selectChannelAccount } from "../../db/channels.ts";
import type { Db } from "../../db/client.ts";
import { type ChannelType, ChannelStatus } from "../../domain/channels.ts";
import { decryptSecrets, secretsKeyOf } from "./secrets.ts";
import type { ChannelAccount } from "./types.ts";

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
