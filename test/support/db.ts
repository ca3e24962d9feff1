import { randomBytes } from "node:crypto";
import postgres from "postgres";

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
