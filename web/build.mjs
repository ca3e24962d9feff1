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
  const sources = ["src", "index.html", "vite.config.ts", "tsconfig.json"].map((name) => newest(join(web, name)));
  return Math.max(...sources) <= builtAt;
}

if (!process.argv.includes("--force") && upToDate()) process.exit(0);

let vite;
try {
  vite = await import("vite");
} catch {
  console.warn("web/build.mjs: vite is not installed (dev dependencies omitted?): the console is not built.");
  process.exit(0);
}
// Built aside, then swapped in: two builds at once (parallel test files) never serve a half-written
// or emptied web/dist to a running server.
const cache = join(web, "..", "node_modules", ".cache");
mkdirSync(cache, { recursive: true });
const out = join(cache, `console-build-${process.pid}`);
const old = join(cache, `console-old-${process.pid}`);
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
