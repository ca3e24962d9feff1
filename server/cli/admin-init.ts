import { fstatSync, mkdirSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { ConfigError, parseConfig } from "../config.ts";
import { InitCode, InitRefused, parseInitInput } from "./initInput.ts";
import type { InitResult } from "./initWorkspace.ts";

/**
 * `npm run admin:init -- --workspace-name "Acme" --email admin@acme.test [...]`: creates a
 * workspace, its first admin and optionally a Webchat channel on the configured database
 * (`DATABASE_URL`, else PGlite in `DATA_DIR`), after applying the migrations. The password is read
 * from standard input when it is piped (or redirected from a file), otherwise generated and
 * printed once. Refuses a second run by accident (see `initWorkspace`).
 *
 * Exit codes: 0 created; 2 invalid input or flags; 3 refused (already initialised, workspace id
 * or email taken); 1 anything else (configuration, database unreachable). On any non-zero exit
 * nothing was written.
 */

const USAGE = `Usage: npm run admin:init -- --workspace-name NAME --email EMAIL [options]

Creates a workspace and its first admin (and optionally a Webchat channel) on the database of
DATABASE_URL (PostgreSQL) or DATA_DIR (embedded PGlite; stop the server using that folder first).
Migrations are applied first.

  --workspace-name NAME   the workspace's display name (required)
  --email EMAIL           the admin's sign-in email (required)
  --workspace-id ID       the workspace's id: 1-63 of a-z, 0-9 and "-" (default: main)
  --name NAME             the admin's display name (default: Admin)
  --locale zh-TW|en       the admin's language (default: zh-TW)
  --webchat NAME          also create a Webchat channel with this name; prints its id, its
                          secret (shown once), its widget page and its message endpoint
  --generate-password     generate the password even when standard input is piped
  --another-workspace     allow it on a database that already holds a workspace
  --json                  print the result (or the refusal) as one JSON object
  -h, --help              this help

The password: piped on standard input (one line; a final newline is dropped), e.g.
  printf '%s\\n' "$ADMIN_PASSWORD" | npm run -s admin:init -- --workspace-name Acme --email admin@acme.test
otherwise a random one is generated and printed once. At least 8 characters.

Exit codes: 0 created; 2 invalid input; 3 refused (the database already holds a workspace, or
the workspace id or email is taken); 1 other failures. Nothing is written unless it exits 0.`;

const EXIT = { ok: 0, failed: 1, invalid: 2, refused: 3 } as const;

const options = {
  "workspace-name": { type: "string" },
  "workspace-id": { type: "string", default: "main" },
  email: { type: "string" },
  name: { type: "string", default: "Admin" },
  locale: { type: "string", default: "zh-TW" },
  webchat: { type: "string" },
  "generate-password": { type: "boolean", default: false },
  "another-workspace": { type: "boolean", default: false },
  json: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

/** True when standard input is a pipe, a file or a socket: something to read a password from (a terminal or /dev/null is not). */
function stdinIsPiped(): boolean {
  try {
    const st = fstatSync(0);
    return st.isFIFO() || st.isFile() || st.isSocket();
  } catch {
    return false;
  }
}

/** The piped password: everything read, less one final newline (`\n` or `\r\n`). */
function readPassword(): string {
  return readFileSync(0, "utf8").replace(/\r?\n$/, "");
}

function printResult(r: InitResult, json: boolean, passwordFrom: "stdin" | "generated"): void {
  if (json) {
    console.log(JSON.stringify({ ok: true, ...r, passwordFrom }));
    return;
  }
  const lines = [
    `Workspace "${r.workspace.name}" created (id: ${r.workspace.id}).`,
    `Admin: ${r.admin.email} (${r.admin.name}, ${r.admin.locale}), id ${r.admin.id}`,
    r.generatedPassword
      ? `Password (generated; shown this once, only its hash is stored: keep it now): ${r.generatedPassword}`
      : "Password: the one read from standard input.",
  ];
  if (r.webchat) {
    lines.push(
      `Webchat channel "${r.webchat.name}": id ${r.webchat.id}`,
      `  secret (shown this once, only its hash is stored): ${r.webchat.secret}`,
      `  widget page (embed in an iframe): ${r.webchat.widget}`,
      `  server-to-server messages: POST ${r.webchat.endpoint}  (header x-channel-secret: the secret; body in docs/protocol.md)`,
    );
  }
  lines.push("Sign in with POST /auth/login {\"email\", \"password\"}.");
  console.log(lines.join("\n"));
}

function refuse(code: InitCode, message: string, json: boolean, issues: readonly string[] = []): number {
  if (json) console.log(JSON.stringify({ ok: false, code, message, ...(issues.length ? { issues } : {}) }));
  console.error(`admin:init: ${message}`);
  return code === InitCode.INVALID_INPUT ? EXIT.invalid : EXIT.refused;
}

async function main(argv: string[]): Promise<number> {
  let values: ReturnType<typeof parseArgs<{ args: string[]; options: typeof options; strict: true }>>["values"];
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }));
  } catch (e) {
    console.error(`admin:init: ${(e as Error).message}\n\n${USAGE}`);
    return EXIT.invalid;
  }
  if (values.help) {
    console.log(USAGE);
    return EXIT.ok;
  }
  const json = values.json;
  const missing = (["workspace-name", "email"] as const).filter((k) => values[k] === undefined);
  if (missing.length > 0) {
    return refuse(InitCode.INVALID_INPUT, `missing ${missing.map((k) => `--${k}`).join(" and ")} (see --help)`, json);
  }
  const passwordFrom = !values["generate-password"] && stdinIsPiped() ? "stdin" : "generated";
  const piped = passwordFrom === "stdin" ? readPassword() : undefined;
  if (piped === "") {
    return refuse(InitCode.INVALID_INPUT, "standard input is piped but empty: pipe the password, or pass --generate-password", json);
  }
  let input: ReturnType<typeof parseInitInput>;
  try {
    input = parseInitInput({
      workspaceId: values["workspace-id"],
      workspaceName: values["workspace-name"],
      adminEmail: values.email,
      adminName: values.name,
      adminLocale: values.locale,
      password: piped,
      webchatName: values.webchat,
      anotherWorkspace: values["another-workspace"],
    });
  } catch (e) {
    if (e instanceof InitRefused) return refuse(e.code, e.message, json, e.issues);
    throw e;
  }

  let config: ReturnType<typeof parseConfig>;
  try {
    config = parseConfig(process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`admin:init: ${e.message}`);
      return EXIT.failed;
    }
    throw e;
  }
  if (!config.databaseUrl && config.dataDir !== "memory://") mkdirSync(config.dataDir, { recursive: true });
  // Loaded only now: a run refused for its input exits without loading the database stack.
  const { openDatabase } = await import("../../db/client.ts");
  const { initWorkspace } = await import("./initWorkspace.ts");
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: 1, statementTimeoutMs: config.dbStatementTimeoutMs });
  try {
    const result = await initWorkspace({ db: database.db, now: () => new Date(), publicUrl: config.publicUrl ?? `http://127.0.0.1:${config.port}` }, input);
    printResult(result, json, passwordFrom);
    return EXIT.ok;
  } catch (e) {
    if (e instanceof InitRefused) return refuse(e.code, e.message, json, e.issues);
    throw e;
  } finally {
    await database.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    // The driver's own message (e.g. "too many clients", "connection refused") is the cause of drizzle's.
    const cause = err instanceof Error && err.cause instanceof Error ? ` (${err.cause.message})` : "";
    console.error(`admin:init failed: ${err instanceof Error ? err.message : String(err)}${cause}`);
    process.exit(EXIT.failed);
  },
);
