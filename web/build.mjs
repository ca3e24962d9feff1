// Builds the web console into web/dist (`npm run web:build`; `npm ci` runs it as `prepare`, `npm start`
// as `prestart`). Without `--force` it does nothing when web/dist is newer than every source file,
// so `npm start` stays fast. Where Vite is not installed (`npm ci --omit=dev`) it says so and exits 0:
// the server then answers `/` with a page saying the console is not built.
import { mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const web = fileURLToPath(new URL(".", import.meta.url));
const built = join(web, "dist", "index.html");

function newest(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newest(join(path, name))));
}

function upToDate() {
  let builtAt;
  try {
    builtAt = statSync(built).mtimeMs;
  } catch {
    return false;
  }
  // The console bundles the typed client (client/) and the pure sets it re-exports.
  const sources = [
    "src",
    "index.html",
    "vite.config.ts",
    "tsconfig.json",
    "../client",
    "../domain/sets.ts",
    "../domain/errors.ts",
    "../domain/wire.ts",
    "../rooms/closeCodes.ts",
  ].map((name) => newest(join(web, name)));
  return Math.max(...sources) <= builtAt;
}

const force = process.argv.includes("--force");
if (!force && upToDate()) process.exit(0);

// One build at a time (parallel test files each ask for one): the others wait, then find it fresh.
const cacheDir = join(web, "..", "node_modules", ".cache");
mkdirSync(cacheDir, { recursive: true });
const lock = join(cacheDir, "console-build.lock");
for (;;) {
  try {
    mkdirSync(lock);
    break;
  } catch {
    // held: wait, unless it is left over from a build that died (older than two minutes)
    try {
      if (Date.now() - statSync(lock).mtimeMs > 120_000) rmSync(lock, { recursive: true, force: true });
    } catch {
      // released meanwhile
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
process.on("exit", () => rmSync(lock, { recursive: true, force: true }));
if (!force && upToDate()) process.exit(0);

let vite;
try {
  vite = await import("vite");
} catch {
  console.warn("web/build.mjs: vite is not installed (dev dependencies omitted?): the console is not built.");
  process.exit(0);
}
// Built aside, then swapped in: a running server never serves a half-written web/dist.
const out = join(cacheDir, `console-build-${process.pid}`);
const old = join(cacheDir, `console-old-${process.pid}`);
await vite.build({ configFile: join(web, "vite.config.ts"), logLevel: "warn", build: { outDir: out, emptyOutDir: true } });
const dist = join(web, "dist");
try {
  renameSync(dist, old);
} catch {
  // none yet, or another build just moved it
}
try {
  renameSync(out, dist);
} catch {
  rmSync(out, { recursive: true, force: true }); // another build put its own (same sources) in place
}
rmSync(old, { recursive: true, force: true });
console.log("web console built into web/dist");
