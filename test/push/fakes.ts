import { type ECDH, createECDH, createPublicKey, randomBytes, randomUUID } from "node:crypto";
import { type IncomingMessage, type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { decrypt } from "http_ece";
import { type CryptoKey as JoseKey, decodeProtectedHeader, importSPKI, jwtVerify } from "jose";

/** Reads a request body whole. */
async function bodyOf(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A P-256 public key (uncompressed point, base64url) as a verification key. */
function p256Key(raw: string) {
  const point = Buffer.from(raw, "base64url");
  const jwk = { kty: "EC", crv: "P-256", x: point.subarray(1, 33).toString("base64url"), y: point.subarray(33, 65).toString("base64url") };
  return createPublicKey({ key: jwk, format: "jwk" });
}

/** A browser's subscription, made by the test: its keys stay here so the fake can decrypt. */
export interface FakeSubscription {
  readonly id: string;
  readonly endpoint: string;
  readonly keys: { readonly p256dh: string; readonly auth: string };
  readonly ecdh: ECDH;
}

export interface WebPushReceived {
  readonly subscriptionId: string;
  readonly payload: Record<string, unknown>;
  readonly headers: IncomingMessage["headers"];
}

/**
 * A local Web Push service (RFC 8030). For every push it checks the VAPID `Authorization` header
 * (RFC 8292: `vapid t=<JWT>, k=<public key>`, the JWT verified with ES256 against `k`, `k` the
 * server's key, `aud` this origin, `exp` within 24 h, a `sub`), the `aes128gcm` encoding and `TTL`,
 * and DECRYPTS the body with the subscription's private key (RFC 8291). A push failing a check is
 * answered 400 and recorded in `problems`; one passing is in `received`.
 */
export class FakeWebPush {
  url = "";
  readonly received: WebPushReceived[] = [];
  readonly problems: string[] = [];
  private readonly subs = new Map<string, FakeSubscription>();
  private readonly answers = new Map<string, number>();
  private server: Server | null = null;

  constructor(private readonly vapidPublicKey: () => string) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      void this.handle(req).then(
        (status) => res.writeHead(status).end(),
        (err: unknown) => {
          this.problems.push(String(err));
          res.writeHead(400).end();
        },
      );
    });
    this.url = await listen(this.server);
  }

  async stop(): Promise<void> {
    await new Promise((r) => this.server?.close(r));
  }

  /** A new subscription as a browser would make it (its own ECDH key pair and auth secret). */
  subscribe(): FakeSubscription {
    const ecdh = createECDH("prime256v1");
    ecdh.generateKeys();
    const id = randomUUID();
    const sub = { id, endpoint: `${this.url}/push/${id}`, keys: { p256dh: ecdh.getPublicKey().toString("base64url"), auth: randomBytes(16).toString("base64url") }, ecdh };
    this.subs.set(id, sub);
    return sub;
  }

  /** From now on, pushes to this subscription are answered `status` (410: gone). */
  answer(subscriptionId: string, status: number): void {
    this.answers.set(subscriptionId, status);
  }

  private async handle(req: IncomingMessage): Promise<number> {
    const body = await bodyOf(req);
    const id = /^\/push\/([^/]+)$/.exec(req.url ?? "")?.[1];
    const sub = id ? this.subs.get(id) : undefined;
    if (req.method !== "POST" || !sub) return 404;
    const auth = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(req.headers.authorization ?? "");
    if (!auth) throw new Error(`bad Authorization: ${req.headers.authorization}`);
    const [, jwt, k] = auth as unknown as [string, string, string];
    if (k !== this.vapidPublicKey()) throw new Error("k is not the server's VAPID public key");
    if (decodeProtectedHeader(jwt).alg !== "ES256") throw new Error("the VAPID JWT is not ES256");
    const { payload: claims } = await jwtVerify(jwt, p256Key(k), { audience: this.url, algorithms: ["ES256"] });
    if (!claims.exp || claims.exp * 1000 > Date.now() + 24 * 3600_000) throw new Error("exp missing or more than 24 h ahead");
    if (typeof claims.sub !== "string" || !/^(mailto:|https:)/.test(claims.sub)) throw new Error("sub missing");
    if (req.headers["content-encoding"] !== "aes128gcm") throw new Error(`content-encoding ${req.headers["content-encoding"]}`);
    if (!req.headers.ttl) throw new Error("TTL missing");
    const plain = decrypt(body, { version: "aes128gcm", privateKey: sub.ecdh, authSecret: sub.keys.auth });
    const status = this.answers.get(sub.id) ?? 201;
    if (status < 300) this.received.push({ subscriptionId: sub.id, payload: JSON.parse(plain.toString("utf8")), headers: req.headers });
    return status;
  }
}

export interface FcmReceived {
  readonly token: string;
  readonly message: Record<string, any>;
}

/**
 * A local FCM: the OAuth 2.0 token endpoint (`POST /token`, the JWT bearer grant, the assertion
 * verified with the service account's public key) and the HTTP v1 send
 * (`POST /v1/projects/{project}/messages:send`), which checks the bearer token and each field of
 * the message. A send failing a check is answered 400 and recorded in `problems`.
 */
export class FakeFcm {
  url = "";
  readonly received: FcmReceived[] = [];
  readonly problems: string[] = [];
  tokensIssued = 0;
  private readonly issued = new Set<string>();
  private readonly gone = new Set<string>();
  private server: Server | null = null;
  private key: JoseKey | null = null;

  constructor(
    private readonly account: { project_id: string; client_email: string; publicKeyPem: string },
  ) {}

  async start(): Promise<void> {
    this.key = await importSPKI(this.account.publicKeyPem, "RS256");
    this.server = createServer((req, res) => {
      void this.handle(req).then(
        ([status, body]) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body)),
        (err: unknown) => {
          this.problems.push(String(err));
          res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ error: { status: "INVALID_ARGUMENT" } }));
        },
      );
    });
    this.url = await listen(this.server);
  }

  async stop(): Promise<void> {
    await new Promise((r) => this.server?.close(r));
  }

  /** Sends to this token are answered 404 UNREGISTERED from now on. */
  unregister(token: string): void {
    this.gone.add(token);
  }

  private async handle(req: IncomingMessage): Promise<[number, unknown]> {
    const raw = (await bodyOf(req)).toString("utf8");
    if (req.method === "POST" && req.url === "/token") {
      const form = new URLSearchParams(raw);
      if (form.get("grant_type") !== "urn:ietf:params:oauth:grant-type:jwt-bearer") throw new Error("grant_type");
      const { payload } = await jwtVerify(form.get("assertion") ?? "", this.key!, { audience: `${this.url}/token`, issuer: this.account.client_email, algorithms: ["RS256"] });
      if (payload.scope !== "https://www.googleapis.com/auth/firebase.messaging") throw new Error(`scope ${payload.scope}`);
      const token = `fake-access-${++this.tokensIssued}`;
      this.issued.add(token);
      return [200, { access_token: token, expires_in: 3599, token_type: "Bearer" }];
    }
    if (req.method !== "POST" || req.url !== `/v1/projects/${this.account.project_id}/messages:send`) return [404, {}];
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
    if (!bearer || !this.issued.has(bearer)) return [401, { error: { status: "UNAUTHENTICATED" } }];
    const { message, ...rest } = JSON.parse(raw) as { message: Record<string, any> };
    if (Object.keys(rest).length) throw new Error(`unknown top-level fields ${Object.keys(rest)}`);
    checkMessage(message);
    if (this.gone.has(message.token)) return [404, { error: { code: 404, status: "NOT_FOUND", details: [{ errorCode: "UNREGISTERED" }] } }];
    this.received.push({ token: message.token, message });
    return [200, { name: `projects/${this.account.project_id}/messages/${randomUUID()}` }];
  }
}

/** Each field of an HTTP v1 `Message` we send, as FCM requires it. */
function checkMessage(m: Record<string, any>): void {
  const must = (ok: boolean, what: string) => {
    if (!ok) throw new Error(`message.${what}`);
  };
  must(typeof m.token === "string" && m.token.length > 0, "token");
  must(typeof m.notification?.title === "string" && typeof m.notification?.body === "string", "notification");
  must(m.data && typeof m.data === "object", "data");
  for (const [k, v] of Object.entries(m.data)) must(typeof v === "string", `data.${k} is not a string`);
  for (const k of ["type", "conversationId", "customerName", "count", "preview", "unread", "totalUnread", "locale"]) must(k in m.data, `data.${k}`);
  must(m.android?.priority === "HIGH" || m.android?.priority === "NORMAL", "android.priority");
  must(typeof m.android?.collapse_key === "string", "android.collapse_key");
  must(typeof m.apns?.headers?.["apns-collapse-id"] === "string" && m.apns.headers["apns-collapse-id"].length <= 64, "apns.headers");
  must(Number.isInteger(m.apns?.payload?.aps?.badge), "apns.payload.aps.badge");
  const known = new Set(["token", "notification", "data", "android", "apns"]);
  for (const k of Object.keys(m)) must(known.has(k), `${k} is not a field we send`);
}
