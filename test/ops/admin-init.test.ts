import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../db/client.ts";
import { listMemberRecords } from "../../db/members.ts";
import { someWorkspaceIds } from "../../db/setup.ts";
import { killAllChildren, killHard, startChildServer } from "../support/child.ts";
import { dropDatabase, freshDatabaseUrl, freshPgliteDir, storageKinds } from "../support/db.ts";

/**
 * `npm run admin:init` as operators run it: a real child process on a fresh embedded folder and on
 * a fresh, empty PostgreSQL database (migrations first). The admin it creates signs in on
 * the real server, its Webchat channel takes a customer's message, a second run is refused, and
 * bad input is refused with a clear message, writing nothing.
 */
const root = join(import.meta.dirname, "..", "..");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with `args`; `stdin`: piped text, or undefined for none (/dev/null: the password is generated). */
function adminInit(env: Record<string, string>, args: string[], stdin?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "server/cli/admin-init.ts", ...args], {
      cwd: root,
      env: { ...process.env, ...env, LOG_LEVEL: "warn" },
      stdio: [stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d) => {
      stdout += String(d);
    });
    child.stderr!.on("data", (d) => {
      stderr += String(d);
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    if (stdin !== undefined) child.stdin!.end(stdin);
  });
}

interface Created {
  ok: true;
  workspace: { id: string; name: string };
  admin: { id: string; email: string; name: string; role: string; locale: string };
  generatedPassword?: string;
  webchat?: { id: string; name: string; secret: string; endpoint: string; widget: string };
  passwordFrom: "stdin" | "generated";
}

/** What the database holds (opened after the CLI exits, closed before the server opens it: PGlite has one owner). */
async function contents(env: Record<string, string>) {
  const database = await openDatabase({ databaseUrl: env.DATABASE_URL || undefined, dataDir: env.DATA_DIR! });
  try {
    const workspaces = await someWorkspaceIds(database.db, 10);
    const members = [];
    for (const w of workspaces) members.push(...(await listMemberRecords(database.db, w, {})).map((m) => m.email));
    return { workspaces, members };
  } finally {
    await database.close();
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  await killAllChildren();
  for (const c of cleanups) await c();
});

describe.each(storageKinds())("admin:init on %s", (kind) => {
  it("creates the workspace, its admin and a Webchat channel; the admin signs in; a second run and bad input are refused, writing nothing", async () => {
    let env: Record<string, string>;
    if (kind === "postgres") {
      const url = (await freshDatabaseUrl())!;
      cleanups.push(() => dropDatabase(url));
      env = { DATABASE_URL: url, DATA_DIR: "unused", REDIS_URL: "" };
    } else {
      // A migrated copy (the empty-database path, migrations first, is the PostgreSQL run's).
      const dir = await freshPgliteDir("inbox-admin-init-");
      cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
      env = { DATABASE_URL: "", DATA_DIR: dir, REDIS_URL: "" };
    }
    const email = "Ops.Admin@Example.test";
    const base = ["--workspace-name", "Acme 客服", "--workspace-id", "acme", "--email", email, "--name", "Olive", "--locale", "en"];

    // The password piped on standard input on PGlite, generated on PostgreSQL: both paths, one each.
    const piped = kind === "pglite" ? "correct horse battery staple\n" : undefined;
    const first = await adminInit(env, [...base, "--webchat", "Website", "--json"], piped);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    const created = JSON.parse(first.stdout) as Created;
    expect(created).toMatchObject({
      ok: true,
      workspace: { id: "acme", name: "Acme 客服" },
      admin: { email: "ops.admin@example.test", name: "Olive", role: "admin", locale: "en" },
      webchat: { name: "Website" },
      passwordFrom: kind === "pglite" ? "stdin" : "generated",
    });
    const password = piped ? piped.trimEnd() : created.generatedPassword!;
    if (piped) expect(created.generatedPassword).toBeUndefined();
    else expect(password.length).toBeGreaterThanOrEqual(16);

    // A second run by accident: refused, exit 3, whatever else changed.
    const again = await adminInit(env, base, "another password 123\n");
    expect([again.code, again.stderr]).toEqual([3, expect.stringContaining('a workspace with the id "acme" already exists')]);
    const otherId = await adminInit(env, [...base.slice(0, 2), "--workspace-id", "beta", "--email", "b@example.test", "--json"]);
    expect(otherId.code).toBe(3);
    expect(JSON.parse(otherId.stdout)).toMatchObject({ ok: false, code: "ALREADY_INITIALIZED" });
    expect(otherId.stderr).toContain("--another-workspace");
    // On purpose, but with the admin's email: refused too (the workspace is not left behind).
    const sameEmail = await adminInit(env, ["--workspace-name", "Beta", "--workspace-id", "beta", "--email", email.toUpperCase(), "--another-workspace", "--json"]);
    expect(sameEmail.code).toBe(3);
    expect(JSON.parse(sameEmail.stdout)).toMatchObject({ ok: false, code: "EMAIL_TAKEN" });

    // Bad input: exit 2, a message naming the field, never the password itself.
    const bad: [string[], string | undefined, string][] = [
      [["--workspace-name", "X", "--workspace-id", "x1", "--email", "not-an-email", "--another-workspace"], "long enough password\n", "adminEmail: must be an email address"],
      [["--workspace-name", "X", "--workspace-id", "x2", "--email", "x2@example.test", "--another-workspace"], "short\n", "password: must be at least 8 characters"],
      [["--workspace-name", "X", "--workspace-id", "x3", "--email", "x3@example.test", "--another-workspace"], "nul\u0000inside-password\n", "password: contains a NUL character"],
      [["--workspace-name", "X", "--workspace-id", "Bad Id!", "--email", "x4@example.test", "--another-workspace"], undefined, "workspaceId: must be 1–63"],
      [["--workspace-name", "X", "--workspace-id", "x5", "--email", "x5@example.test", "--locale", "fr", "--another-workspace"], undefined, "adminLocale: must be one of"],
      [["--workspace-name", " ", "--workspace-id", "x6", "--email", "x6@example.test", "--another-workspace"], undefined, "workspaceName: must not be empty"],
      [["--workspace-id", "x7", "--email", "x7@example.test"], undefined, "missing --workspace-name"],
      [["--workspace-name", "X", "--workspace-id", "x8", "--email", "x8@example.test", "--another-workspace"], "", "standard input is piped but empty"],
      [["--workspace-name", "X", "--emial", "x9@example.test"], undefined, "Unknown option '--emial'"],
    ];
    // Refused before the database is opened: they may run at once, even on one PGlite folder.
    const runs = await Promise.all(bad.map(([args, stdin]) => adminInit(env, args, stdin)));
    bad.forEach(([args, , message], i) => {
      expect([runs[i]!.code, runs[i]!.stderr], args.join(" ")).toEqual([2, expect.stringContaining(message)]);
      expect(runs[i]!.stderr).not.toContain("inside-password");
    });

    // Nothing but the first run's rows.
    expect(await contents(env)).toEqual({ workspaces: ["acme"], members: ["ops.admin@example.test"] });

    // The real server: the admin signs in (any case of the email), the channel takes a message.
    const server = await startChildServer(env);
    const login = await fetch(`${server.url}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password }),
    });
    expect(login.status).toBe(200);
    const { accessToken } = (await login.json()) as { accessToken: string };
    const me = await fetch(`${server.url}/api/v2/me`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(await me.json()).toMatchObject({ email: "ops.admin@example.test", role: "admin", workspaceId: "acme", name: "Olive", locale: "en" });
    const wrong = await fetch(`${server.url}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password: "another password 123" }),
    });
    expect(wrong.status).toBe(401);

    const channel = created.webchat!;
    expect(channel.endpoint).toMatch(new RegExp(`/channels/webchat/${channel.id}/messages$`));
    expect(channel.widget).toMatch(new RegExp(`/widget\\?channel=${channel.id}$`));
    const message = await fetch(`${server.url}${new URL(channel.endpoint).pathname}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-channel-secret": channel.secret },
      body: JSON.stringify({ messageId: "m-1", customer: { id: "visitor-1", name: "Visitor" }, text: "Hello?" }),
    });
    expect(message.status).toBe(202);
    const badSecret = await fetch(`${server.url}${new URL(channel.endpoint).pathname}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-channel-secret": "not-the-secret-at-all" },
      body: JSON.stringify({ messageId: "m-2", customer: { id: "visitor-1", name: "Visitor" }, text: "Hello?" }),
    });
    expect(badSecret.status).toBe(401);
    await killHard(server.child);
  }, 600_000); // a dozen CLI processes and a server, on a 2-core machine shared with other tests
});
