// Builds the web console into web/dist (`npm run web:build`; `npm ci` runs it as `prepare`, `npm start`
// as `prestart`). Without `--force` it does nothing when web/dist is newer than every source file,
// so `npm start` stays fast. Where Vite is not installed (`npm ci --omit=dev`) it says so and exits 0:
// the server then answers `/` with a page saying the console is not built.
import { readdirSync, statSync } from "node:fs";
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
await vite.build({ configFile: join(web, "vite.config.ts"), logLevel: "warn" });
console.log("web console built into web/dist");
