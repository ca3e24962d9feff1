import { type Http2Server, type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session, createServer } from "node:http2";
import type { AddressInfo } from "node:net";
import { type CryptoKey, decodeProtectedHeader, importSPKI, jwtVerify } from "jose";

export interface ApnsReceived {
  readonly token: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly payload: Record<string, any>;
}

export interface FakeApnsAccount {
  readonly keyId: string;
  readonly teamId: string;
  readonly topic: string;
  /** The auth key's public half (SPKI PEM): what Apple holds for the key id. */
  readonly publicKeyPem: string;
}

/**
 * A local APNs provider API: an HTTP/2 server (cleartext h2c: Node's client speaks the same
 * frames; Apple's is TLS) that checks each request as Apple's "Sending notification requests to
 * APNs" documents it: `:method` POST, `:path` `/3/device/<hex token>`, `authorization: bearer
 * <JWT>` (ES256 verified with the key's public half, `kid` the key id, `iss` the team id, `iat`
 * within the last hour and not ahead), `apns-topic` the bundle id, `apns-push-type: alert`,
 * `apns-priority` 10 or 5, `apns-expiration` a UNIX time, `apns-collapse-id` at most 64 bytes, and
 * a JSON body of at most 4 KB with `aps.alert` {title, body}, `aps.badge` an integer and our keys.
 * A request failing a check is answered 400 with its reason and recorded in `problems`.
 * Tokens marked `unregister` answer 410 Unregistered, `badToken` 400 BadDeviceToken.
 */
export class FakeApns {
  url = "";
  readonly received: ApnsReceived[] = [];
  readonly problems: string[] = [];
  /** Distinct provider tokens seen (Apple wants one reused for 20–60 minutes). */
  readonly providerTokens = new Set<string>();
  /** HTTP/2 connections opened to it (the sender keeps one). */
  sessionsOpened = 0;
  private readonly gone = new Set<string>();
  private readonly bad = new Set<string>();
  private readonly sessions = new Set<ServerHttp2Session>();
  private server: Http2Server | null = null;
  private key: CryptoKey | null = null;

  constructor(private readonly account: FakeApnsAccount) {}

  async start(): Promise<void> {
    this.key = await importSPKI(this.account.publicKeyPem, "ES256");
    this.server = createServer((req, res) => {
      void this.handle(req).then(
        ([status, body]) => answer(res, status, body),
        (err: unknown) => {
          this.problems.push(err instanceof Error ? err.message : String(err));
          answer(res, 400, { reason: "BadRequestByFake", detail: String(err) });
        },
      );
    });
    this.server.on("session", (s) => {
      this.sessionsOpened++;
      this.sessions.add(s);
      s.on("close", () => this.sessions.delete(s));
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const s of this.sessions) s.destroy();
    await new Promise((r) => this.server?.close(r));
  }

  /** From now on, pushes to this token answer 410 Unregistered (the app was removed). */
  unregister(token: string): void {
    this.gone.add(token.toLowerCase());
  }

  /** From now on, pushes to this token answer 400 BadDeviceToken (a token of another environment). */
  badToken(token: string): void {
    this.bad.add(token.toLowerCase());
  }

  private async handle(req: Http2ServerRequest): Promise<[number, unknown]> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const h = req.headers;
    const must = (ok: boolean, what: string) => {
      if (!ok) throw new Error(what);
    };
    must(req.httpVersion === "2.0", `HTTP/${req.httpVersion}: APNs speaks HTTP/2 only`);
    must(h[":method"] === "POST", `:method ${h[":method"]}`);
    const token = /^\/3\/device\/([0-9a-f]+)$/.exec(String(h[":path"]))?.[1];
    if (!token) return [400, { reason: "BadPath" }];
    // Provider token (JWT): ES256, kid, iss, a fresh iat.
    const bearer = /^bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/.exec(String(h.authorization ?? ""))?.[1];
    if (!bearer) return [403, { reason: "MissingProviderToken" }];
    const header = decodeProtectedHeader(bearer);
    must(header.alg === "ES256", `JWT alg ${header.alg}`);
    must(header.kid === this.account.keyId, `JWT kid ${header.kid}`);
    let claims: Record<string, unknown>;
    try {
      claims = (await jwtVerify(bearer, this.key!, { algorithms: ["ES256"], issuer: this.account.teamId })).payload;
    } catch (err) {
      return [403, { reason: "InvalidProviderToken", detail: String(err) }];
    }
    const iat = Number(claims.iat);
    const now = Date.now() / 1000;
    must(Number.isInteger(iat) && iat <= now + 60, `JWT iat ${claims.iat} missing or ahead`);
    if (now - iat > 3600) return [403, { reason: "ExpiredProviderToken" }];
    must(Object.keys(claims).sort().join() === "iat,iss", `JWT claims ${Object.keys(claims)}`);
    this.providerTokens.add(bearer);
    // Headers.
    if (h["apns-topic"] !== this.account.topic) return [400, { reason: "TopicDisallowed" }];
    must(h["apns-push-type"] === "alert", `apns-push-type ${h["apns-push-type"]}`);
    must(h["apns-priority"] === "10" || h["apns-priority"] === "5", `apns-priority ${h["apns-priority"]}`);
    must(/^\d+$/.test(String(h["apns-expiration"] ?? "")) && Number(h["apns-expiration"]) > now, `apns-expiration ${h["apns-expiration"]}`);
    const collapse = h["apns-collapse-id"];
    must(
      collapse === undefined || (typeof collapse === "string" && Buffer.byteLength(collapse) <= 64 && collapse.length > 0),
      "apns-collapse-id over 64 bytes",
    );
    // Body.
    if (raw.length > 4096) return [413, { reason: "PayloadTooLarge" }];
    const payload = JSON.parse(raw.toString("utf8")) as Record<string, any>;
    const aps = payload.aps;
    must(aps && typeof aps === "object", "aps missing");
    must(typeof aps.alert?.title === "string" && typeof aps.alert?.body === "string", "aps.alert {title, body}");
    must(Number.isInteger(aps.badge) && aps.badge >= 0, `aps.badge ${aps.badge}`);
    for (const k of Object.keys(aps)) must(["alert", "badge", "sound", "thread-id"].includes(k), `aps.${k} is not a key we send`);
    for (const k of ["type", "conversationId", "customerName", "count", "unread", "totalUnread", "locale"])
      must(k in payload, `custom key ${k} missing`);
    if (this.bad.has(token)) return [400, { reason: "BadDeviceToken" }];
    if (this.gone.has(token)) return [410, { reason: "Unregistered", timestamp: Date.now() }];
    this.received.push({ token, headers: { ...h }, payload });
    return [200, null];
  }
}

function answer(res: Http2ServerResponse, status: number, body: unknown): void {
  const headers: Record<string, string> = { "apns-id": crypto.randomUUID().toUpperCase() };
  if (body === null) {
    res.writeHead(status, headers).end();
    return;
  }
  res.writeHead(status, { ...headers, "content-type": "application/json" }).end(JSON.stringify(body));
}
