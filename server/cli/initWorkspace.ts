import { randomBytes, randomUUID } from "node:crypto";
import { z } from "zod";
import type { Db } from "../../db/client.ts";
import { emailTaken, insertMember } from "../../db/members.ts";
import { lockWorkspaceSetup } from "../../db/migrate.ts";
import { insertWorkspace, someWorkspaceIds, workspaceExists } from "../../db/setup.ts";
import { DEFAULT_SETTINGS } from "../../domain/model.ts";
import { LOCALES, type Locale } from "../../domain/sets.ts";
import { storableString } from "../../domain/text.ts";
import { Auth } from "../auth.ts";
import { type ChannelView, createAccount } from "../channels/accounts.ts";

/**
 * What `npm run admin:init` does, apart from its shell (flags, standard input, printing): checks
 * the input, then creates a workspace, its first admin and optionally a Webchat channel in one
 * transaction, or nothing at all.
 */

/** Why a run created nothing. Stable codes, printed (and in `--json` output) for scripts. */
export const InitCode = {
  /** The input is invalid (nothing was read from or written to the database). */
  INVALID_INPUT: "INVALID_INPUT",
  /** The database already holds a workspace and `--another-workspace` was not given. */
  ALREADY_INITIALIZED: "ALREADY_INITIALIZED",
  /** A workspace with this id exists. */
  WORKSPACE_EXISTS: "WORKSPACE_EXISTS",
  /** A member (of any workspace) has this email. */
  EMAIL_TAKEN: "EMAIL_TAKEN",
} as const;
export type InitCode = (typeof InitCode)[keyof typeof InitCode];

export class InitRefused extends Error {
  constructor(
    readonly code: InitCode,
    message: string,
    readonly issues: readonly string[] = [],
  ) {
    super(message);
    this.name = "InitRefused";
  }
}

/** Workspace ids are short slugs: they appear in tokens, room options and logs. */
export const WORKSPACE_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** The shortest password accepted (as the member administration API). */
export const MIN_PASSWORD = 8;

const Name = storableString().trim().min(1, "must not be empty").max(100);

/** The input, as the shell collects it from flags and standard input. */
export const InitInput = z.object({
  workspaceId: storableString().regex(WORKSPACE_ID, "must be 1–63 lower-case letters, digits or hyphens, starting with a letter or digit"),
  workspaceName: Name,
  adminEmail: storableString()
    .trim()
    .max(200)
    .pipe(z.email("must be an email address"))
    .transform((e) => e.toLowerCase()),
  adminName: Name,
  adminLocale: z.enum(LOCALES as [Locale, ...Locale[]], { message: `must be one of ${LOCALES.join(", ")}` }),
  /** Undefined: one is generated (and answered once). */
  password: storableString().min(MIN_PASSWORD, `must be at least ${MIN_PASSWORD} characters`).max(200).optional(),
  /** The Webchat channel's name; undefined: no channel. */
  webchatName: Name.optional(),
  /** Allow a new workspace on a database that already holds some. */
  anotherWorkspace: z.boolean(),
});
export type InitInput = z.input<typeof InitInput>;
export type ParsedInit = z.output<typeof InitInput>;

/** The input checked, or `InitRefused(INVALID_INPUT)` listing every issue by field (never a value: it may be a password). */
export function parseInitInput(raw: unknown): ParsedInit {
  const r = InitInput.safeParse(raw);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => `${i.path.join(".") || "(input)"}: ${i.message}`);
  throw new InitRefused(InitCode.INVALID_INPUT, `invalid input:\n  ${issues.join("\n  ")}`, issues);
}

export interface InitResult {
  readonly workspace: { readonly id: string; readonly name: string };
  readonly admin: { readonly id: string; readonly email: string; readonly name: string; readonly role: "admin"; readonly locale: Locale };
  /** Set when the password was generated: shown once, stored only as a hash. */
  readonly generatedPassword?: string;
  /** Set when a Webchat channel was asked for; its secret is shown once, stored only as a hash. */
  readonly webchat?: { readonly id: string; readonly name: string; readonly secret: string; readonly endpoint: string };
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
      ...(channel && webchatSecret ? { webchat: { id: channel.id, name: channel.name, secret: webchatSecret, endpoint: channel.webhookUrl } } : {}),
    };
  });
}
