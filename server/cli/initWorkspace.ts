import { randomBytes, randomUUID } from "node:crypto";
import type { Db } from "../../db/client.ts";
import { emailTaken, insertMember } from "../../db/members.ts";
import { lockWorkspaceSetup } from "../../db/migrate.ts";
import { insertWorkspace, someWorkspaceIds, workspaceExists } from "../../db/setup.ts";
import { DEFAULT_SETTINGS } from "../../domain/model.ts";
import type { Locale } from "../../domain/sets.ts";
import { Auth } from "../auth.ts";
import { type ChannelView, createAccount } from "../channels/accounts.ts";
import { InitCode, InitRefused, type ParsedInit } from "./initInput.ts";

/**
 * What `npm run admin:init` does, apart from its shell (flags, standard input, printing): checks
 * the input, then creates a workspace, its first admin and optionally a Webchat channel in one
 * transaction, or nothing at all.
 */

export interface InitResult {
  readonly workspace: { readonly id: string; readonly name: string };
  readonly admin: { readonly id: string; readonly email: string; readonly name: string; readonly role: "admin"; readonly locale: Locale };
  /** Set when the password was generated: shown once, stored only as a hash. */
  readonly generatedPassword?: string;
  /** Set when a Webchat channel was asked for; its secret is shown once, stored only as a hash. */
  readonly webchat?: {
    readonly id: string;
    readonly name: string;
    readonly secret: string;
    /** Where a website's server posts customers' messages (with the secret). */
    readonly endpoint: string;
    /** The Webchat widget page for this channel (`/widget?channel=<id>`), to embed in an iframe. */
    readonly widget: string;
  };
}

/** A password (or channel secret) for a human to copy: 24 characters, 144 random bits. */
export function generateSecret(): string {
  return randomBytes(18).toString("base64url");
}

/**
 * Creates the workspace, its admin and (when asked) a Webchat channel, in one transaction under
 * the workspace-setup lock, after checking that this is not a second run by accident: refuses
 * with ALREADY_INITIALIZED when any workspace exists (unless `anotherWorkspace`), WORKSPACE_EXISTS
 * or EMAIL_TAKEN. A refusal writes nothing.
 */
export async function initWorkspace(deps: { db: Db; now: () => Date; publicUrl: string }, input: ParsedInit): Promise<InitResult> {
  const generatedPassword = input.password === undefined ? generateSecret() : undefined;
  const passwordHash = await Auth.hashPassword(input.password ?? generatedPassword!);
  const webchatSecret = input.webchatName === undefined ? undefined : generateSecret();
  const at = deps.now();
  return deps.db.transaction(async (tx) => {
    await lockWorkspaceSetup(tx);
    if (await workspaceExists(tx, input.workspaceId)) {
      throw new InitRefused(InitCode.WORKSPACE_EXISTS, `a workspace with the id "${input.workspaceId}" already exists: nothing was created`);
    }
    const existing = await someWorkspaceIds(tx, 3);
    if (existing.length > 0 && !input.anotherWorkspace) {
      throw new InitRefused(
        InitCode.ALREADY_INITIALIZED,
        `the database already holds a workspace (${existing.join(", ")}${existing.length === 3 ? ", …" : ""}): nothing was created. ` +
          "admin:init sets up an empty database once; to add one more workspace on purpose, run it again with --another-workspace",
      );
    }
    if (await emailTaken(tx, input.adminEmail)) {
      throw new InitRefused(InitCode.EMAIL_TAKEN, `a member with the email ${input.adminEmail} already exists: nothing was created`);
    }
    await insertWorkspace(tx, { id: input.workspaceId, name: input.workspaceName, settings: DEFAULT_SETTINGS });
    const admin = await insertMember(tx, {
      id: randomUUID(),
      workspaceId: input.workspaceId,
      name: input.adminName,
      email: input.adminEmail,
      phone: null,
      role: "admin",
      locale: input.adminLocale,
      passwordHash,
      at,
    });
    if (!admin) throw new InitRefused(InitCode.EMAIL_TAKEN, `a member with the email ${input.adminEmail} already exists: nothing was created`);
    let channel: ChannelView | undefined;
    if (input.webchatName !== undefined) {
      channel = await createAccount({ db: tx, now: () => at, publicUrl: () => deps.publicUrl }, input.workspaceId, {
        type: "webchat",
        name: input.webchatName,
        credentials: { secret: webchatSecret },
      });
    }
    return {
      workspace: { id: input.workspaceId, name: input.workspaceName },
      admin: { id: admin.id, email: admin.email, name: admin.name, role: "admin", locale: input.adminLocale },
      ...(generatedPassword ? { generatedPassword } : {}),
      ...(channel && webchatSecret ? {
            webchat: {
              id: channel.id,
              name: channel.name,
              secret: webchatSecret,
              endpoint: channel.webhookUrl,
              widget: `${deps.publicUrl}/widget?channel=${encodeURIComponent(channel.id)}`,
            },
          } : {}),
    };
  });
}
