import { mkdirSync } from "node:fs";
import { openDatabase } from "../../db/client.ts";
import { ConfigError, parseConfig } from "../config.ts";

/**
 * `npm run db:migrate`: applies the migrations to the configured database (`DATABASE_URL`, else
 * PGlite in `DATA_DIR`) and exits. The server applies them at every start too (under an advisory
 * lock on PostgreSQL, so several processes starting at once are safe); this is for a release
 * step that migrates before any new process starts (the Procfile's `release:`).
 */
try {
  const config = parseConfig(process.env);
  if (!config.databaseUrl && config.dataDir !== "memory://") mkdirSync(config.dataDir, { recursive: true });
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: 1 });
  await database.close();
  console.log(`db:migrate: migrations applied (${database.kind === "postgres" ? "PostgreSQL" : `embedded PGlite in ${config.dataDir}`})`);
} catch (e) {
  const cause = e instanceof Error && e.cause instanceof Error ? ` (${e.cause.message})` : "";
  console.error(e instanceof ConfigError ? `db:migrate: ${e.message}` : `db:migrate failed: ${e instanceof Error ? e.message : String(e)}${cause}`);
  process.exit(1);
}
