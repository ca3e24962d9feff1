import { z } from "zod";
import { LOCALES, type Locale } from "../../domain/sets.ts";
import { storableString } from "../../domain/text.ts";

/**
 * The input of `npm run admin:init`, checked before anything else is loaded or opened: a run with
 * bad input exits at once, having read and written nothing.
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
