import { build } from "esbuild";
import { expect, it } from "vitest";

/**
 * The client is for browsers too (the web console bundles it with Vite): bundled for the browser
 * platform it needs no Node module, and carries nothing of the server — its imports of server
 * files are types only, or pure constant sets. (esbuild: the bundler Vite uses for dependencies; here through tsx.)
 */
it("client/index.ts bundles for the browser with no Node module and no server code", async () => {
  const result = await build({
    entryPoints: [new URL("../../client/index.ts", import.meta.url).pathname],
    bundle: true,
    platform: "browser",
    format: "esm",
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  expect(result.errors).toEqual([]);
  const inputs = Object.keys(result.metafile.inputs);
  const ours = inputs.filter((p) => !p.includes("node_modules/"));
  // Ours: the client, and the pure sets it re-exports.
  expect(ours.filter((p) => !p.startsWith("client/")).sort()).toEqual([
    "domain/errors.ts",
    "domain/sets.ts",
    "domain/wire.ts",
    "rooms/closeCodes.ts",
  ]);
  const packages = new Set(inputs.filter((p) => p.includes("node_modules/")).map((p) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(p)![1]));
  for (const serverOnly of ["zod", "pino", "drizzle-orm", "postgres", "hono", "@colyseus/core", "@electric-sql/pglite", "jose"])
    expect(packages).not.toContain(serverOnly);
});
