/**
 * Channel benchmark (issue 9): signed inbound webhooks accepted per second and their answer time,
 * and outbound staff replies sent per second, against the local provider fakes of the tests
 * (test/support/fakes/), each next to the `/healthz` round trip of the same server measured in the
 * same run by the same client. The figures to read are the ratios; docs/bench-channels.md has runs.
 *
 *   npm run bench:channels                   # PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test)
 *   BENCH_PGLITE=1 npm run bench:channels    # …then the same on embedded PGlite
 *   npm run bench:channels -- --no-doc       # do not rewrite the generated part of docs/bench-channels.md
 *   BENCH_WEBHOOKS=1000 BENCH_CONCURRENCY=16,64 BENCH_CONTACTS=200 BENCH_SENDS=500 BENCH_SEND_CONVERSATIONS=50 BENCH_WARMUP=200 BENCH_ROUNDS=4
 *
 * PostgreSQL: a fresh database next to DATABASE_URL (dropped at the end), the server (server/main.ts)
 * in a child process; PGlite: the server in this process (see bench/support/target.ts).
 *
 * Each part runs in BENCH_ROUNDS rounds of (its /healthz baseline, then what is compared with it),
 * each round a share of the counts, so a change in the machine's load moves both sides of a ratio.
 * Server CPU per item is read from /proc for the child, database CPU from its PostgreSQL backends.
 *
 * Inbound, per concurrency and provider (LINE `x-line-signature`; WhatsApp Cloud API
 * `X-Hub-Signature-256`): BENCH_WEBHOOKS webhooks, one text message each with a new provider id,
 * spread over BENCH_CONTACTS new contacts, posted by a closed loop of `concurrency` keep-alive
 * connections. "accepted/s" counts 200 answers with the event stored (committed before the answer);
 * "stored as messages/s" runs until every accepted event is a message in its conversation (intake
 * through the rooms), counted in the database. The next scenario starts once the last one is
 * stored. At the end: events stored = messages stored = webhooks accepted, per channel, and one
 * conversation per contact; any difference fails the run (exit 1).
 *
 * Outbound, per provider: an admin's SDK clients join BENCH_SEND_CONVERSATIONS of the conversations
 * made by the inbound part (team view) and commit BENCH_SENDS replies in all (each room one after
 * the other, the rooms in parallel); timed until the fake has accepted all of them and the database
 * holds all of them with delivery status `sent` (the server's own delivery worker sends them).
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { and, count, eq, isNotNull } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import * as s from "../db/schema.ts";
import { FakeLine, lineMessageEvent, lineWebhookBody, signLine } from "../test/support/fakes/line.ts";
import { FakeWhatsApp, signWhatsApp, waTextMessage, waWebhookBody } from "../test/support/fakes/whatsapp.ts";
import { type LoadRequest, type LoadResult, int, pct, runLoad } from "./support/load.ts";
import { ReplyRoom, signedInClient } from "./support/rooms.ts";
import { type CpuSample, type Target, cpuBetween, startPgliteTarget, startPostgresTarget } from "./support/target.ts";

const WEBHOOKS = int("BENCH_WEBHOOKS", 1000);
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? "16,64").split(",").map((c) => {
  const v = Number(c.trim());
  if (!Number.isInteger(v) || v < 1) throw new Error(`BENCH_CONCURRENCY: ${c} is not an integer ≥ 1`);
  return v;
});
const CONTACTS = int("BENCH_CONTACTS", 200);
const SENDS = int("BENCH_SENDS", 500);
const SEND_CONVERSATIONS = int("BENCH_SEND_CONVERSATIONS", 50);
const WARMUP = int("BENCH_WARMUP", 200, 0);
const ROUNDS = int("BENCH_ROUNDS", 4);
const BASE_URL = process.env.DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test";
const STORAGES: ("postgres" | "pglite")[] = process.env.BENCH_PGLITE === "1" ? ["postgres", "pglite"] : ["postgres"];
const WRITE_DOC = !process.argv.includes("--no-doc");
const DOC = fileURLToPath(new URL("../docs/bench-channels.md", import.meta.url));
/** How long the stored counts may take to catch up with what was accepted or committed. */
const CATCH_UP_MS = 120_000;
/** The pause before each baseline. */
const SETTLE_MS = 500;

const ADMIN = "admin@demo.test";
/** Room answers that mean "try again" (docs/protocol.md). */
const TRANSIENT: ReadonlySet<string> = new Set(["STORAGE_UNAVAILABLE", "SERVICE_UNAVAILABLE"]);
const LINE_SECRET = "bench-line-channel-secret-0123456789";
const LINE_TOKEN = "bench-line-access-token";
const WA_APP_SECRET = "bench-wa-app-secret-0123456789";
const WA_TOKEN = "bench-wa-access-token";
const WA_PHONE_NUMBER_ID = "106540352242922";

// ---- providers -----------------------------------------------------------------------------------

type ProviderName = "LINE" | "WhatsApp";

interface Provider {
  readonly name: ProviderName;
  readonly channelId: string;
  /** Webhook `i` of scenario `tag`: one new text message from contact `i % CONTACTS` of that scenario. */
  webhook(tag: string, i: number): LoadRequest;
  /** Sends the fake has accepted so far. */
  sent(): number;
  violations(): string[];
}

const hex = (seed: string, n: number) => createHash("sha256").update(seed).digest("hex").slice(0, n);
/** A LINE user id (U + 32 hex digits), distinct per seed. */
const lineUser = (seed: string) => `U${hex(seed, 32)}`;
/** A WhatsApp wa_id (digits), distinct per seed. */
const waId = (seed: string) =>
  `49${BigInt(`0x${hex(seed, 12)}`)
    .toString()
    .padStart(15, "0")
    .slice(0, 13)}`;

function lineProvider(fake: FakeLine, channelId: string): Provider {
  return {
    name: "LINE",
    channelId,
    webhook(tag, i) {
      const userId = lineUser(`${tag}-${i % CONTACTS}`);
      if (i < CONTACTS) fake.setProfile(userId, { displayName: `Bench ${tag} ${i}` });
      const body = lineWebhookBody([
        lineMessageEvent({
          eventId: `01${hex(`line-event-${tag}-${i}`, 24).toUpperCase()}`,
          userId,
          message: { id: String(BigInt(`0x${hex(`line-msg-${tag}-${i}`, 13)}`)), type: "text", text: `bench ${tag} #${i}` },
        }),
      ]);
      return {
        method: "POST",
        path: `/webhooks/line/${channelId}`,
        headers: { "content-type": "application/json; charset=utf-8", "x-line-signature": signLine(body, LINE_SECRET) },
        body,
      };
    },
    sent: () => fake.pushes.length,
    violations: () => fake.violations(),
  };
}

function whatsAppProvider(fake: FakeWhatsApp, channelId: string): Provider {
  return {
    name: "WhatsApp",
    channelId,
    webhook(tag, i) {
      const k = i % CONTACTS;
      const from = waId(`${tag}-${k}`);
      const body = waWebhookBody(WA_PHONE_NUMBER_ID, [
        {
          contacts: [{ wa_id: from, name: `Bench ${tag} ${k}` }],
          messages: [waTextMessage({ wamid: `wamid.BENCH${hex(`wa-${tag}-${i}`, 24).toUpperCase()}`, from, text: `bench ${tag} #${i}` })],
        },
      ]);
      return {
        method: "POST",
        path: `/webhooks/whatsapp/${channelId}`,
        headers: { "content-type": "application/json", "x-hub-signature-256": signWhatsApp(body, WA_APP_SECRET) },
        body,
      };
    },
    sent: () => fake.sends.length,
    violations: () => fake.violations(),
  };
}

/** Creates a channel account through the admin API (`POST /api/v2/channels`); its id. */
async function createChannel(url: string, token: string, body: unknown): Promise<string> {
  const res = await fetch(`${url}/api/v2/channels`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`create channel: ${res.status} ${text}`);
  return (JSON.parse(text) as { id: string }).id;
}

// ---- what the database holds ------------------------------------------------------------------------

async function customerMessages(db: Db, channelId: string): Promise<number> {
  const [r] = await db
    .select({ n: count() })
    .from(s.messages)
    .innerJoin(s.conversations, eq(s.conversations.id, s.messages.conversationId))
    .where(and(eq(s.conversations.channelId, channelId), eq(s.messages.sender, "customer")));
  return r?.n ?? 0;
}

async function sentReplies(db: Db, channelId: string): Promise<number> {
  const [r] = await db
    .select({ n: count() })
    .from(s.messages)
    .innerJoin(s.conversations, eq(s.conversations.id, s.messages.conversationId))
    .where(and(eq(s.conversations.channelId, channelId), eq(s.messages.sender, "staff"), eq(s.messages.deliveryStatus, "sent")));
  return r?.n ?? 0;
}

async function storedEvents(db: Db, channelId: string): Promise<{ all: number; processed: number }> {
  const e = s.inboundEvents;
  const [all] = await db.select({ n: count() }).from(e).where(eq(e.channelId, channelId));
  const [processed] = await db
    .select({ n: count() })
    .from(e)
    .where(and(eq(e.channelId, channelId), isNotNull(e.processedAt)));
  return { all: all?.n ?? 0, processed: processed?.n ?? 0 };
}

async function conversationCount(db: Db, channelId: string): Promise<number> {
  const [r] = await db.select({ n: count() }).from(s.conversations).where(eq(s.conversations.channelId, channelId));
  return r?.n ?? 0;
}

/** Polls `check` every 20 ms until it holds; the time it held, or an error after CATCH_UP_MS. */
async function until(check: () => Promise<boolean>, what: string): Promise<number> {
  const deadline = performance.now() + CATCH_UP_MS;
  for (;;) {
    if (await check()) return performance.now();
    if (performance.now() > deadline) throw new Error(`not reached in ${CATCH_UP_MS / 1000} s: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// ---- the run ---------------------------------------------------------------------------------------

interface Row {
  readonly metric: string;
  readonly value: number;
  readonly unit: string;
  readonly baseline?: { readonly value: number; readonly name: string };
}

interface StorageRun {
  readonly kind: string;
  readonly mode: string;
  readonly rows: Row[];
  readonly checks: string[];
  readonly seconds: number;
}

const log = (line: string) => process.stderr.write(`${line}\n`);

function healthz(): LoadRequest {
  return { method: "GET", path: "/healthz" };
}

/** Where round `r`'s share of `total` starts (`end` 0) or ends (`end` 1). */
function share(total: number, r: number, end: 0 | 1): number {
  return Math.floor(((r + end) * total) / ROUNDS);
}

/** One measured operation's figures, added up over the rounds. */
class Tally {
  readonly latencies: number[] = [];
  private n = 0;
  private wallMs = 0;
  private doneMs = 0;
  private serverCpuMs = 0;
  private databaseCpuMs = 0;
  private cpuKnown = true;

  /** One round: its answer times, its load's wall time, the time until its work was done, CPU samples around it; `n` items (default: one per latency). */
  add(
    latencies: readonly number[],
    wallMs: number,
    doneMs: number,
    cpu0: CpuSample | null,
    cpu1: CpuSample | null,
    n = latencies.length,
    refused = 0,
  ): void {
    this.latencies.push(...latencies);
    this.n += n;
    this.refused += refused;
    this.wallMs += wallMs;
    this.doneMs += doneMs;
    if (cpu0 && cpu1) {
      const d = cpuBetween(cpu0, cpu1);
      this.serverCpuMs += d.serverMs;
      this.databaseCpuMs += d.databaseMs;
    } else {
      this.cpuKnown = false;
    }
  }

  /** Items answered 503 at first (and retried). */
  refused = 0;

  /** Items accepted at the first try per second over the loads' wall time. */
  rate(): number {
    return ((this.n - this.refused) / this.wallMs) * 1000;
  }

  /** Items per second until their work was done. */
  doneRate(): number {
    return (this.n / this.doneMs) * 1000;
  }

  cpuPerItem(): { serverMs: number; databaseMs: number } | null {
    return this.cpuKnown && this.n > 0 ? { serverMs: this.serverCpuMs / this.n, databaseMs: this.databaseCpuMs / this.n } : null;
  }
}

/**
 * Checks a load's webhook answers: each 200 with its one event stored, or 503 (storage busy: the
 * provider retries, see `inbound`). The indices answered 503; anything else fails the run.
 */
function refusedOf(provider: ProviderName, result: LoadResult, retry = false): number[] {
  const refused: number[] = [];
  result.answers.forEach((a, i) => {
    if (a.status === 503) {
      refused.push(i);
      return;
    }
    const body = a.status === 200 ? (JSON.parse(a.body) as { stored: number; duplicates: number }) : null;
    // A retried webhook whose first try was committed after all is a duplicate: stored once, as it should be.
    const once = body?.stored === 1 ? body.duplicates === 0 : retry && body?.duplicates === 1 && body.stored === 0;
    if (!once) throw new Error(`${provider} webhook answered ${a.status} ${a.body}`);
  });
  return refused;
}

async function runOn(kind: "postgres" | "pglite"): Promise<StorageRun> {
  const t0 = performance.now();
  const line = await FakeLine.start([LINE_TOKEN]);
  const wa = await FakeWhatsApp.start([WA_TOKEN]);
  const urls = { lineApiBaseUrl: line.url, metaGraphBaseUrl: wa.url };
  let target: Target | null = null;
  const rows: Row[] = [];
  const checks: string[] = [];
  const rooms: ReplyRoom[] = [];
  try {
    log(`[${kind}] starting the server…`);
    target = kind === "postgres" ? await startPostgresTarget(BASE_URL, urls) : await startPgliteTarget(urls);
    const { url, db } = target;
    const { client, token } = await signedInClient(url, ADMIN);
    const providers = [
      lineProvider(
        line,
        await createChannel(url, token, {
          type: "line",
          name: "LINE bench",
          credentials: { channelSecret: LINE_SECRET, channelAccessToken: LINE_TOKEN },
        }),
      ),
      whatsAppProvider(
        wa,
        await createChannel(url, token, {
          type: "whatsapp",
          name: "WhatsApp bench",
          settings: { phoneNumberId: WA_PHONE_NUMBER_ID },
          credentials: { appSecret: WA_APP_SECRET, accessToken: WA_TOKEN, verifyToken: "bench-verify" },
        }),
      ),
    ];
    const expected = new Map<string, { accepted: number; contacts: number }>(
      providers.map((p) => [p.channelId, { accepted: 0, contacts: 0 }]),
    );

    const server = target;
    /** `n` /healthz requests at `concurrency`, added to `tally`. */
    const baseline = async (tally: Tally, n: number, concurrency: number) => {
      const cpu0 = await server.cpu();
      const result = await runLoad(url, n, concurrency, healthz);
      if (result.answers.some((a) => a.status !== 200)) throw new Error("/healthz did not answer 200");
      tally.add(result.latencies, result.wallMs, result.wallMs, cpu0, await server.cpu());
    };
    /** Posts webhooks `from`…`from + n - 1` of scenario `tag`; waits until all accepted ones are processed messages. */
    const inbound = async (tally: Tally | null, p: Provider, tag: string, from: number, n: number, concurrency: number) => {
      const e = expected.get(p.channelId)!;
      const cpu0 = await server.cpu();
      const start = performance.now();
      const result = await runLoad(url, n, concurrency, (i) => p.webhook(tag, from + i));
      const refused = refusedOf(p.name, result);
      // Webhooks answered 503 are sent again, as the providers do, until accepted (5 tries, 1 s apart).
      let again = refused.map((i) => from + i);
      for (let attempt = 0; again.length > 0; attempt++) {
        if (attempt === 5) throw new Error(`${p.name}: ${again.length} webhooks still answered 503 after 5 retries`);
        await new Promise((r) => setTimeout(r, 1000));
        const retried = again;
        again = refusedOf(p.name, await runLoad(url, retried.length, 4, (i) => p.webhook(tag, retried[i]!)), true).map((i) => retried[i]!);
      }
      e.accepted += n;
      const stored = await until(
        async () => (await customerMessages(db, p.channelId)) >= e.accepted,
        `${p.name} ${tag}: ${e.accepted} messages`,
      );
      // The intake's last step (each event marked processed) belongs to the webhook's cost too.
      await until(async () => (await storedEvents(db, p.channelId)).processed >= e.accepted, `${p.name} ${tag}: events processed`);
      tally?.add(result.latencies, result.wallMs, stored - start, cpu0, await server.cpu(), n, refused.length);
    };
    /** A pause before a baseline, so the work of what came before (room broadcasts, timers) is over. */
    const settle = () => new Promise((r) => setTimeout(r, SETTLE_MS));
    /** The server's CPU ms per second over one second without requests (timers, live rooms), or null. */
    const idleCpu = async () => {
      const a = await server.cpu();
      await new Promise((r) => setTimeout(r, 1000));
      const b = await server.cpu();
      return a && b ? cpuBetween(a, b).serverMs : null;
    };

    // Warm-up (not reported): the HTTP path, both webhooks, the rooms' first loads.
    if (WARMUP > 0) {
      log(`[${kind}] warm-up…`);
      await runLoad(url, WARMUP * 5, Math.max(...CONCURRENCY), healthz);
      for (const p of providers) {
        await inbound(null, p, "warm", 0, WARMUP, Math.min(...CONCURRENCY));
        expected.get(p.channelId)!.contacts += Math.min(WARMUP, CONTACTS);
      }
    }

    // Inbound: per concurrency, ROUNDS rounds of (/healthz, LINE, WhatsApp), each a share of the counts.
    for (const c of CONCURRENCY) {
      await settle();
      const idle = await idleCpu();
      if (idle !== null) rows.push({ metric: `server CPU while idle, before c=${c}`, value: idle, unit: "cpu/s" });
      const h = new Tally();
      const tallies = new Map(providers.map((p) => [p.name, new Tally()]));
      for (let r = 0; r < ROUNDS; r++) {
        const from = share(WEBHOOKS, r, 0);
        const n = share(WEBHOOKS, r, 1) - from;
        log(`[${kind}] c=${c} round ${r + 1}/${ROUNDS}: ${n} × /healthz, ${providers.map((p) => p.name).join(", ")} webhooks…`);
        await settle();
        await baseline(h, n, c);
        for (const p of providers) await inbound(tallies.get(p.name)!, p, `c${c}`, from, n, c);
      }
      for (const p of providers) expected.get(p.channelId)!.contacts += Math.min(WEBHOOKS, CONTACTS);
      const base = (v: number, name: string) => ({ value: v, name: `/healthz c=${c} ${name}` });
      rows.push({ metric: `/healthz c=${c}: requests/s`, value: h.rate(), unit: "/s" });
      rows.push({ metric: `/healthz c=${c}: p50`, value: pct(h.latencies, 50), unit: "ms" });
      rows.push({ metric: `/healthz c=${c}: p99`, value: pct(h.latencies, 99), unit: "ms" });
      const hCpu = h.cpuPerItem();
      if (hCpu) rows.push({ metric: `/healthz c=${c}: server CPU per request`, value: hCpu.serverMs, unit: "cpu" });
      for (const p of providers) {
        const w = tallies.get(p.name)!;
        rows.push({ metric: `${p.name} webhooks c=${c}: accepted/s`, value: w.rate(), unit: "/s", baseline: base(h.rate(), "req/s") });
        if (w.refused > 0) rows.push({ metric: `${p.name} webhooks c=${c}: answered 503 (sent again)`, value: w.refused, unit: "count" });
        rows.push({
          metric: `${p.name} webhooks c=${c}: answer p50`,
          value: pct(w.latencies, 50),
          unit: "ms",
          baseline: base(pct(h.latencies, 50), "p50"),
        });
        rows.push({
          metric: `${p.name} webhooks c=${c}: answer p99`,
          value: pct(w.latencies, 99),
          unit: "ms",
          baseline: base(pct(h.latencies, 99), "p99"),
        });
        rows.push({
          metric: `${p.name} webhooks c=${c}: stored as messages/s`,
          value: w.doneRate(),
          unit: "/s",
          baseline: base(h.rate(), "req/s"),
        });
        const cpu = w.cpuPerItem();
        if (cpu && hCpu) {
          rows.push({
            metric: `${p.name} webhooks c=${c}: server CPU per webhook (accept + store)`,
            value: cpu.serverMs,
            unit: "cpu",
            baseline: { value: hCpu.serverMs, name: `/healthz c=${c} server CPU` },
          });
          rows.push({ metric: `${p.name} webhooks c=${c}: database CPU per webhook`, value: cpu.databaseMs, unit: "cpu" });
        }
      }
    }

    // What the inbound part stored: every accepted event once, as one message, one conversation per contact.
    for (const p of providers) {
      const e = expected.get(p.channelId)!;
      const events = await storedEvents(db, p.channelId);
      const messages = await customerMessages(db, p.channelId);
      const conversations = await conversationCount(db, p.channelId);
      const ok = events.all === e.accepted && events.processed === e.accepted && messages === e.accepted && conversations === e.contacts;
      const text = `${p.name}: webhooks accepted ${e.accepted}, events stored ${events.all} (processed ${events.processed}), customer messages ${messages}, conversations ${conversations} for ${e.contacts} contacts`;
      checks.push(`${ok ? "ok  " : "FAIL"} ${text}`);
      if (!ok) throw new Error(`lost or extra rows: ${text}`);
    }

    // Outbound: staff replies through real rooms, sent by the server's delivery worker to the fakes;
    // ROUNDS rounds of (/healthz, LINE replies, WhatsApp replies).
    const roomsOf = new Map<ProviderName, ReplyRoom[]>();
    for (const p of providers) {
      const convs = await db
        .select({ id: s.conversations.id })
        .from(s.conversations)
        .where(eq(s.conversations.channelId, p.channelId))
        .orderBy(s.conversations.id)
        .limit(SEND_CONVERSATIONS);
      if (convs.length < SEND_CONVERSATIONS) throw new Error(`${p.name}: only ${convs.length} conversations to reply in`);
      const mine = await Promise.all(convs.map((c) => ReplyRoom.open(client, c.id)));
      rooms.push(...mine);
      roomsOf.set(p.name, mine);
    }
    await settle();
    const idle = await idleCpu();
    if (idle !== null) rows.push({ metric: `server CPU while idle, ${rooms.length} rooms joined`, value: idle, unit: "cpu/s" });
    const h = new Tally();
    const tallies = new Map(providers.map((p) => [p.name, { sends: new Tally(), commits: new Tally(), transient: 0 }]));
    const sentBefore = new Map(providers.map((p) => [p.name, p.sent()]));
    const storedBefore = new Map<ProviderName, number>();
    for (const p of providers) storedBefore.set(p.name, await sentReplies(db, p.channelId));
    for (let r = 0; r < ROUNDS; r++) {
      const from = share(SENDS, r, 0);
      const n = share(SENDS, r, 1) - from;
      log(`[${kind}] outbound round ${r + 1}/${ROUNDS}: /healthz c=${SEND_CONVERSATIONS}, ${n} replies per provider…`);
      await settle();
      await baseline(h, share(WEBHOOKS, r, 1) - share(WEBHOOKS, r, 0), SEND_CONVERSATIONS);
      for (const p of providers) {
        const mine = roomsOf.get(p.name)!;
        const latencies: number[] = [];
        let transient = 0;
        const cpu0 = await server.cpu();
        const start = performance.now();
        await Promise.all(
          mine.map(async (room, k) => {
            for (let i = from + k; i < from + n; i += mine.length) {
              const t = performance.now();
              let answer = await room.reply(`bench-${p.name}-${i}`, `bench reply ${i} 👍`);
              latencies.push(performance.now() - t);
              // A transient refusal is retried with the same request id, as a client does (the room answers a repeat as a duplicate).
              for (let k = 0; k < 5 && !answer.ok && TRANSIENT.has(answer.code ?? ""); k++) {
                transient++;
                await new Promise((r) => setTimeout(r, 500));
                answer = await room.reply(`bench-${p.name}-${i}`, `bench reply ${i} 👍`);
              }
              if (!answer.ok) throw new Error(`${p.name} reply ${i} refused: ${answer.code}`);
            }
          }),
        );
        const committed = performance.now();
        const want = from + n;
        const done = await until(
          async () =>
            p.sent() - sentBefore.get(p.name)! >= want && (await sentReplies(db, p.channelId)) - storedBefore.get(p.name)! >= want,
          `${p.name}: ${want} sends received and stored sent`,
        );
        const cpu1 = await server.cpu();
        const tally = tallies.get(p.name)!;
        tally.commits.add(latencies, committed - start, committed - start, null, null, n);
        tally.transient += transient;
        tally.sends.add([], done - start, done - start, cpu0, cpu1, n);
      }
    }
    for (const p of providers) {
      const sendsReceived = p.sent() - sentBefore.get(p.name)!;
      const sentStored = (await sentReplies(db, p.channelId)) - storedBefore.get(p.name)!;
      const ok = sendsReceived === SENDS && sentStored === SENDS && p.violations().length === 0;
      const text = `${p.name}: replies committed ${SENDS}, sends the fake accepted ${sendsReceived}, stored \`sent\` ${sentStored}, request shape violations ${p.violations().length}`;
      checks.push(`${ok ? "ok  " : "FAIL"} ${text}`);
      if (!ok) throw new Error(`outbound: ${text}${p.violations().length ? `\n${p.violations().slice(0, 5).join("\n")}` : ""}`);
    }
    rows.push({ metric: `/healthz c=${SEND_CONVERSATIONS}: requests/s`, value: h.rate(), unit: "/s" });
    rows.push({ metric: `/healthz c=${SEND_CONVERSATIONS}: p50`, value: pct(h.latencies, 50), unit: "ms" });
    const hCpu = h.cpuPerItem();
    if (hCpu) rows.push({ metric: `/healthz c=${SEND_CONVERSATIONS}: server CPU per request`, value: hCpu.serverMs, unit: "cpu" });
    const baseRate = { value: h.rate(), name: `/healthz c=${SEND_CONVERSATIONS} req/s` };
    for (const p of providers) {
      const { sends, commits, transient } = tallies.get(p.name)!;
      rows.push({
        metric: `${p.name} replies committed/s (${SEND_CONVERSATIONS} rooms)`,
        value: commits.rate(),
        unit: "/s",
        baseline: baseRate,
      });
      if (transient > 0)
        rows.push({ metric: `${p.name} replies answered STORAGE/SERVICE_UNAVAILABLE (sent again)`, value: transient, unit: "count" });
      rows.push({
        metric: `${p.name} reply commit p50`,
        value: pct(commits.latencies, 50),
        unit: "ms",
        baseline: { value: pct(h.latencies, 50), name: `/healthz c=${SEND_CONVERSATIONS} p50` },
      });
      rows.push({ metric: `${p.name} sends/s (at the fake, \`sent\` stored)`, value: sends.rate(), unit: "/s", baseline: baseRate });
      const cpu = sends.cpuPerItem();
      if (cpu && hCpu) {
        rows.push({
          metric: `${p.name} server CPU per reply (commit + send + status)`,
          value: cpu.serverMs,
          unit: "cpu",
          baseline: { value: hCpu.serverMs, name: `/healthz c=${SEND_CONVERSATIONS} server CPU` },
        });
        rows.push({ metric: `${p.name} database CPU per reply`, value: cpu.databaseMs, unit: "cpu" });
      }
    }
    return { kind, mode: target.mode, rows, checks, seconds: (performance.now() - t0) / 1000 };
  } finally {
    await Promise.all(rooms.map((room) => room.leave()));
    await target?.stop();
    await line.stop();
    await wa.stop();
  }
}

// ---- report ----------------------------------------------------------------------------------------

function fmt(v: number, unit: string): string {
  switch (unit) {
    case "ms":
      return `${v.toFixed(2)} ms`;
    case "cpu":
      return `${v.toFixed(3)} ms`;
    case "cpu/s":
      return `${v.toFixed(0)} ms/s`;
    case "count":
      return String(v);
    default:
      return `${v.toFixed(0)}/s`;
  }
}

function table(run: StorageRun): string[] {
  const head = ["metric", "value", "baseline", "ratio"];
  const body = run.rows.map((r) => [
    r.metric,
    fmt(r.value, r.unit),
    r.baseline ? `${fmt(r.baseline.value, r.unit)} (${r.baseline.name})` : "—",
    r.baseline ? `${(r.value / r.baseline.value).toFixed(r.value / r.baseline.value < 1 ? 3 : 1)}×` : "",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === 0 || i === 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`;
  return [
    line(head),
    `|${widths.map((w, i) => (i === 0 || i === 2 ? `:${"-".repeat(w + 1)}` : `${"-".repeat(w + 1)}:`)).join("|")}|`,
    ...body.map(line),
  ];
}

function command(): string {
  const env = Object.entries(process.env)
    .filter(([k]) => k.startsWith("BENCH_") || k === "DATABASE_URL")
    .map(([k, v]) => `${k}=${v}`)
    .sort();
  const args = process.argv.slice(2);
  return [...env, "npm run bench:channels", ...(args.length ? ["--", ...args] : [])].join(" ");
}

function writeDoc(report: string): void {
  const begin = "<!-- bench:channels:begin (generated by npm run bench:channels) -->";
  const end = "<!-- bench:channels:end -->";
  const doc = existsSync(DOC) ? readFileSync(DOC, "utf8") : `# Channel benchmark\n\n${begin}\n${end}\n`;
  const a = doc.indexOf(begin);
  const b = doc.indexOf(end);
  if (a < 0 || b < a) throw new Error(`${DOC}: markers not found`);
  writeFileSync(DOC, `${doc.slice(0, a)}${begin}\n\n${report}\n\n${end}${doc.slice(b + end.length)}`);
}

async function main() {
  const started = new Date();
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
  const runs: StorageRun[] = [];
  for (const kind of STORAGES) runs.push(await runOn(kind));

  const out: string[] = [];
  out.push(`Run of ${started.toISOString()}: \`${command()}\``);
  out.push("");
  out.push(
    `Machine: ${availableParallelism()} cores (${cpus()[0]?.model.trim() ?? "?"}), node ${process.version}, load average at start ${load}. ` +
      `Sizes: ${WEBHOOKS} webhooks per provider and concurrency (c = ${CONCURRENCY.join(", ")}) over ${CONTACTS} new contacts each, ` +
      `warm-up ${WARMUP}; ${SENDS} replies per provider in ${SEND_CONVERSATIONS} conversations.`,
  );
  for (const run of runs) {
    out.push("");
    out.push(`**${run.kind}** (server: ${run.mode}; ${run.seconds.toFixed(0)} s)`);
    out.push("");
    out.push(...table(run));
    out.push("");
    out.push("Checks:");
    out.push("");
    for (const c of run.checks) out.push(`- ${c}`);
  }
  const report = out.join("\n");
  console.log(report);
  if (WRITE_DOC) {
    writeDoc(report);
    log(`wrote ${DOC}`);
  }
}

try {
  await main();
} catch (e) {
  console.error(e);
  process.exitCode = 1;
}
