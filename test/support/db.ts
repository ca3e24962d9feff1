import { createHash, randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { openDatabase } from "../../db/client.ts";

/**
 * Where tests keep their data. With `DATABASE_URL` set (CI), each call makes a fresh PostgreSQL
 * database next to it; without, tests run on in-memory PGlite.
 */
export async function freshDatabaseUrl(): Promise<string | undefined> {
  const base = process.env.DATABASE_URL;
  if (!base) return undefined;
  const name = `t_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

/** The storage kinds a contract test should run against on this machine. */
export function storageKinds(): ("pglite" | "postgres")[] {
  return process.env.DATABASE_URL ? ["pglite", "postgres"] : ["pglite"];
}

/** Drops a database made by `freshDatabaseUrl` (best effort: leftovers are only disk). */
export async function dropDatabase(url: string | undefined): Promise<void> {
  const base = process.env.DATABASE_URL;
  if (!url || !base) return;
  const name = new URL(url).pathname.slice(1);
  if (!/^t_[a-z0-9_]+$/.test(name)) return;
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
  } catch {
    // ignore: a leftover test database does no harm
  } finally {
    await admin.end();
  }
}

/**
 * A fresh folder for an embedded (PGlite) database, already initialised and migrated: a copy of a
 * template made once per machine and migration set (in the OS temp folder). A PGlite folder
 * created from nothing spends ~5 s in `initdb` and migrations; a copy takes a fraction of a
 * second. What a server does on such a folder is what it does on any existing, migrated one.
 */
export async function freshPgliteDir(prefix = "inbox-pglite-"): Promise<string> {
  const template = await pgliteTemplate();
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cpSync(template, dir, { recursive: true });
  return dir;
}

let templateMade: Promise<string> | null = null;

function pgliteTemplate(): Promise<string> {
  templateMade ??= (async () => {
    const root = join(import.meta.dirname, "..", "..");
    const migrations = join(root, "db", "migrations");
    const h = createHash("sha256");
    for (const f of readdirSync(migrations).filter((n) => n.endsWith(".sql")).sort()) h.update(f).update(readFileSync(join(migrations, f)));
    h.update(readFileSync(join(root, "node_modules", "@electric-sql", "pglite", "package.json")));
    const dir = join(tmpdir(), `inbox-pglite-template-${h.digest("hex").slice(0, 16)}`);
    if (existsSync(join(dir, "PG_VERSION"))) return dir;
    // Made aside and renamed into place, so a test file running at the same time never sees half a template.
    const making = mkdtempSync(`${dir}-making-`);
    const database = await openDatabase({ dataDir: making });
    await database.close();
    try {
      renameSync(making, dir);
    } catch {
      rmSync(making, { recursive: true, force: true }); // another file made it first
    }
    return dir;
  })();
  return templateMade;
}

/**
 * Storage of `kind` for a server run as a child process (kept across a kill -9 and a restart): a
 * fresh PostgreSQL database, or a fresh PGlite folder; `cleanups` receives what removes it.
 */
export async function childStorage(
  kind: "pglite" | "postgres",
  prefix: string,
  cleanups: (() => Promise<void>)[],
): Promise<{ databaseUrl?: string; dataDir: string }> {
  if (kind === "postgres") {
    const databaseUrl = (await freshDatabaseUrl())!;
    cleanups.push(() => dropDatabase(databaseUrl));
    return { databaseUrl, dataDir: "unused" };
  }
  const dir = await freshPgliteDir(prefix);
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  return { dataDir: dir };
}
