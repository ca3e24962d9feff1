import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** What every fake records of a request it received: where it went and how it broke the provider's shape. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly violations: readonly string[];
}

/**
 * The HTTP half every provider fake shares: a real server on a free port of 127.0.0.1, the body
 * read whole before the fake's own `handle` checks it, the requests recorded, and responses held
 * unanswered (a provider that hangs) destroyed at `stop()`.
 */
export abstract class FakeProviderServer<R extends RecordedRequest> {
  readonly requests: R[] = [];
  /** Responses never answered (a timeout on demand); destroyed at `stop()`. */
  protected readonly held = new Set<ServerResponse>();
  private readonly server = createServer((req, res) => void this.receive(req, res));
  private address = "";

  /** The fake's base URL, `http://127.0.0.1:<port>`. */
  get url(): string {
    return this.address;
  }

  /** Every violation of the provider's request shape seen so far. */
  violations(): string[] {
    return this.requests.flatMap((r) => r.violations.map((v) => `${r.method} ${r.path}: ${v}`));
  }

  async stop(): Promise<void> {
    for (const res of this.held) res.destroy();
    this.held.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
  }

  /** Listens on a free port; subclasses' `start` returns what this resolves to. */
  protected async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.address = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Answers one request whose body (`raw`) has been read whole. */
  protected abstract handle(req: IncomingMessage, res: ServerResponse, raw: string, url: URL): Promise<void>;

  private async receive(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    await this.handle(req, res, Buffer.concat(chunks).toString("utf8"), new URL(req.url ?? "/", this.address));
  }
}
