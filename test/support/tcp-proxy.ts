import net from "node:net";

/**
 * A TCP proxy the test controls, to put a real PostgreSQL or Redis behind a network fault:
 * - `pass`: bytes flow both ways (buffered bytes from a stall are delivered);
 * - `stall`: nothing is forwarded either way and new connections hang (the server "never answers");
 * - `cut`: every open connection is destroyed and new ones are dropped at once.
 */
export class TcpProxy {
  private server: net.Server | null = null;
  private readonly pairs = new Set<{ client: net.Socket; upstream: net.Socket; held: { toUp: Buffer[]; toClient: Buffer[] } }>();
  mode: "pass" | "stall" | "cut" = "pass";
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  /** A proxy in front of the host and port of `url` (postgres:// or redis://). */
  static forUrl(url: string): TcpProxy {
    const u = new URL(url);
    const fallback = u.protocol.startsWith("redis") ? 6379 : 5432;
    return new TcpProxy(u.hostname || "127.0.0.1", Number(u.port || fallback));
  }

  /** `url` with its host and port replaced by this proxy's. */
  rewrite(url: string): string {
    const u = new URL(url);
    u.hostname = "127.0.0.1";
    u.port = String(this.port);
    return u.toString();
  }

  async start(): Promise<void> {
    this.server = net.createServer((client) => this.accept(client));
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  private accept(client: net.Socket): void {
    if (this.mode === "cut") {
      client.destroy();
      return;
    }
    const upstream = net.connect(this.targetPort, this.targetHost);
    const pair = { client, upstream, held: { toUp: [] as Buffer[], toClient: [] as Buffer[] } };
    this.pairs.add(pair);
    const end = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("data", (b: Buffer) => (this.mode === "pass" ? upstream.write(b) : pair.held.toUp.push(b)));
    upstream.on("data", (b: Buffer) => (this.mode === "pass" ? client.write(b) : pair.held.toClient.push(b)));
    client.on("close", end);
    upstream.on("close", end);
    client.on("error", end);
    upstream.on("error", end);
  }

  /** Stop forwarding (sockets stay open, bytes are held). */
  stall(): void {
    this.mode = "stall";
  }

  /** Destroy every open connection; refuse new ones until `pass()`. */
  cut(): void {
    this.mode = "cut";
    for (const p of this.pairs) {
      p.client.destroy();
      p.upstream.destroy();
    }
    this.pairs.clear();
  }

  /** Forward again, delivering what a stall held. */
  pass(): void {
    this.mode = "pass";
    for (const p of this.pairs) {
      for (const b of p.held.toUp.splice(0)) p.upstream.write(b);
      for (const b of p.held.toClient.splice(0)) p.client.write(b);
    }
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = null;
  }
}
