import { ConfigError, parseConfig } from "./config.ts";
import { startApp } from "./app.ts";
import { DEMO_MEMBERS, DEMO_PASSWORD, DEMO_WEBCHAT } from "./seed.ts";

let config: ReturnType<typeof parseConfig>;
try {
  config = parseConfig(process.env);
} catch (e) {
  if (e instanceof ConfigError) {
    console.error(e.message);
    process.exit(1);
  }
  throw e;
}

const app = await startApp(config);
const host = config.host === "0.0.0.0" ? "127.0.0.1" : config.host;
const lines = [
  "",
  `Collaborative inbox backend listening on http://${host}:${app.port}  (ws://${host}:${app.port} for the Colyseus SDK)`,
  `Database: ${app.database.kind === "pglite" ? `embedded PGlite in ${config.dataDir}` : "PostgreSQL"}; presence: ${config.redisUrl ? "Redis" : "in-process"}`,
  `Web console:   http://${host}:${app.port}/`,
  `API reference: http://${host}:${app.port}/docs  (OpenAPI: /openapi.json)`,
  `Sign in:       POST http://${host}:${app.port}/auth/login  {"email": …, "password": …}  → accessToken (Bearer, and the rooms' auth token)`,
];
if (app.database.kind === "pglite" || app.seeded) {
  lines.push(`Demo logins (password "${DEMO_PASSWORD}"):`);
  for (const m of DEMO_MEMBERS) lines.push(`  ${m.email.padEnd(22)} ${m.role.padEnd(13)} ${m.name}`);
  lines.push(`Webchat channel "${DEMO_WEBCHAT.channelId}", secret "${DEMO_WEBCHAT.secret}"`);
}
console.log(lines.join("\n"));

/**
 * SIGTERM / SIGINT: a graceful stop (server/app.ts `stop()`: refuse new work, finish the rooms'
 * queued actions, close clients with 4106, flush the outbox), then exit 0. A second signal, or
 * `SHUTDOWN_DEADLINE_SECONDS` passing, exits at once with 1: what was acknowledged is committed
 * already, and the clients' reconnect finds the rooms again in another process.
 */
let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) {
      app.log.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    app.log.info({ signal, deadlineSeconds: config.shutdownDeadlineSeconds }, "stopping");
    setTimeout(() => {
      app.log.error({ deadlineSeconds: config.shutdownDeadlineSeconds }, "graceful stop past its deadline: exiting now");
      process.exit(1);
    }, config.shutdownDeadlineSeconds * 1000).unref();
    app
      .stop()
      .then(() => {
        app.log.info("stopped");
        process.exit(0);
      })
      .catch((err) => {
        console.error(err);
        process.exit(1);
      });
  });
}
