/**
 * The plain `ws` baselines of P2 and P3, run as their own process (like the server under test):
 * a WebSocket server whose clients connect to `/<room>`; a message from any client is sent, as
 * it came, to every other client of the same room. It prints its port on stdout once listening.
 *
 *   node --import tsx bench/p/plain-ws.ts
 */
import { type WebSocket, WebSocketServer } from "ws";

const rooms = new Map<string, Set<WebSocket>>();
const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
wss.on("connection", (socket, req) => {
  const key = req.url ?? "/";
  const room = rooms.get(key) ?? new Set<WebSocket>();
  rooms.set(key, room);
  room.add(socket);
  socket.on("message", (data, isBinary) => {
    for (const other of room) if (other !== socket) other.send(data, { binary: isBinary });
  });
  socket.on("close", () => room.delete(socket));
});
wss.on("listening", () => {
  const address = wss.address();
  process.stdout.write(`${typeof address === "string" || address === null ? address : address.port}\n`);
});
