import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { parseConfig } from "../../server/config.ts";

/**
 * `.env.example` documents every variable server/config.ts reads (a variable added there without
 * a line here fails this test), each with a description, and its uncommented values form a valid
 * production configuration.
 */
const root = join(import.meta.dirname, "..", "..");
const example = readFileSync(join(root, ".env.example"), "utf8");
const source = readFileSync(join(root, "server", "config.ts"), "utf8");

/** The keys of the `Env` zod object: `  NAME: z…` lines. */
const configKeys = [...source.matchAll(/^ {2}([A-Z][A-Z0-9_]*): (z\b|limitRule\()/gm)].map((m) => m[1]!);
const [serverPart, composePart = ""] = example.split(/^# -+ Docker Compose only/m);
const listed = (text: string) => [...text.matchAll(/^#? ?([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!);

it(".env.example lists every variable of server/config.ts", () => {
  expect(configKeys.length).toBeGreaterThan(10);
  const missing = configKeys.filter((k) => !listed(serverPart!).includes(k));
  expect(missing, "add these to .env.example with their description").toEqual([]);
  expect(listed(composePart)).toContain("POSTGRES_PASSWORD");
});

it("each variable has a description line above it", () => {
  const lines = serverPart!.split("\n");
  for (const key of configKeys) {
    const i = lines.findIndex((l) => new RegExp(`^#? ?${key}=`).test(l));
    expect(lines[i - 1]?.startsWith("# ") && !/^# ?[A-Z][A-Z0-9_]*=/.test(lines[i - 1]!), `${key}: description`).toBe(true);
  }
});

it("its uncommented values, secrets filled in, are a valid production configuration", () => {
  const env: Record<string, string> = {};
  for (const m of serverPart!.matchAll(/^([A-Z][A-Z0-9_]*)=(.*)$/gm)) env[m[1]!] = m[2]!;
  expect(env.NODE_ENV).toBe("production");
  const config = parseConfig({ ...env, JWT_SECRET: "x".repeat(48), CHANNEL_SECRETS_KEY: Buffer.alloc(32, 7).toString("base64") });
  expect([config.production, config.databaseUrl, config.redisUrl]).toEqual([true, env.DATABASE_URL, env.REDIS_URL]);
});
