import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../server/config.ts";

const root = join(import.meta.dirname, "..", "..");

describe("configuration", () => {
  it("has working defaults for the embedded start", () => {
    const c = parseConfig({});
    expect(c).toMatchObject({ port: 2567, dataDir: "./data", databaseUrl: undefined, redisUrl: undefined, seedDemo: "auto" });
  });

  it.each([
    ["PORT", "abc"],
    ["PORT", "70000"],
    ["DATABASE_URL", "mysql://x"],
    ["REDIS_URL", "http://x"],
    ["JWT_SECRET", "short"],
    ["SEED_DEMO", "maybe"],
  ])("a bad %s (%s) is refused with a message naming it", (name, value) => {
    expect(() => parseConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => parseConfig({ [name]: value })).toThrow(name);
  });

  it("requires JWT_SECRET in production", () => {
    expect(() => parseConfig({ NODE_ENV: "production" })).toThrow("JWT_SECRET");
  });

  it("stops the start with the variable's name on stderr", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "server/main.ts"], {
      cwd: root,
      env: { ...process.env, PORT: "abc", DATABASE_URL: "" },
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("PORT");
  });
});
