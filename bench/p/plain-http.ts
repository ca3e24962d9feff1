/**
 * The baselines of bench/http-floor.ts, run as their own process (like the server under test):
 * `GET /healthz` answered `{"ok":true}` by plain `node:http` (argument `node`), or by a Hono app on
 * @hono/node-server with no middleware (argument `hono`). It prints its port on stdout once listening.
 *
 *   node --import tsx bench/p/plain-http.ts node|hono
 */
import { createServer } from "node:http";
import { getRequestListener } from "@hono/node-server";
import { Hono } from "hono";

const mode = process.argv[2] ?? "node";
const body = JSON.stringify({ ok: true });
const hono = new Hono().get("/healthz", (c) => c.json({ ok: true }));
const honoListener = getRequestListener(hono.fetch);
const server = createServer(
  mode === "hono"
    ? (req, res) => void honoListener(req, res)
    : (_req, res) => {
        res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
        res.end(body);
      },
);
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(`${typeof address === "string" || address === null ? address : address.port}\n`);
});
