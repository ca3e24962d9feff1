/**
 * Writes the served OpenAPI document to docs/openapi.json (`npm run docs:openapi`), so the HTTP half
 * of the contract can be read without running the server. A test keeps the copy equal to the served one.
 */
import { writeFileSync } from "node:fs";
import pino from "pino";
import { startApp } from "./app.ts";
import { parseConfig } from "./config.ts";

const app = await startApp(parseConfig({ PORT: "0", HOST: "127.0.0.1", DATA_DIR: "memory://", SEED_DEMO: "false", JWT_SECRET: "export-only-secret-export-only-secret" }), {
  log: pino({ level: "silent" }),
});
try {
  const doc = await (await fetch(`${app.url}/openapi.json`)).json();
  writeFileSync(new URL("../docs/openapi.json", import.meta.url), `${JSON.stringify(doc, null, 2)}\n`);
  console.log("docs/openapi.json written");
} finally {
  await app.stop();
}
