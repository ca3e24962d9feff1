/**
 * Channel benchmark (issue 9): signed inbound webhooks accepted per second and their answer time,
 * and outbound staff replies sent per second, against the local provider fakes of the tests
 * (test/support/fakes/), each next to the `/healthz` round trip of the same server measured in the
 * same run by the same client. The figures to read are the ratios; docs/bench-channels.md has runs.
 *
 *   npm run bench:channels                   # PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test)
 *   BENCH_PGLITE=1 npm run bench:channels    # …then the same on embedded PGlite
 *   npm run bench:channels -- --no-doc       # do not rewrite the generated part of docs/bench-channels.md
 *   BENCH_WEBHOOKS=1000 BENCH_CONCURRENCY=16,64 BENCH_CONTACTS=200 BENCH_SENDS=500 BENCH_SEND_CONVERSATIONS=50 BENCH_WARMUP=200
 *
 * PostgreSQL: a fresh database next to DATABASE_URL (dropped at the end), the server (server/main.ts)
 * in a child process; PGlite: the server in this process (see bench/support/target.ts).
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
import { type LoadRequest, type LoadResult, pct, runLoad } from "./support/load.ts";
import { ReplyRoom, signedInClient } from "./support/rooms.ts";
import { type CpuSample, type Target, cpuBetween, startPgliteTarget, startPostgresTarget } from "./support/target.ts";

const int = (name: string, fallback: number, min = 1): number => {
  const raw = process.env[name];
  const v = raw === undefined || raw === "" ? fallback : Number(raw);
  if (!Number.isInteger(v) || v < min) throw new Error(`${name}: ${raw} is not an integer ≥ ${min}`);
  return v;
};
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
const BASE_URL = process.env.DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test";
const STORAGES: ("postgres" | "pglite")[] = process.env.BENCH_PGLITE === "1" ? ["postgres", "pglite"] : ["postgres"];
const WRITE_DOC = !process.argv.includes("--no-doc");
const DOC = fileURLToPath(new URL("../docs/bench-channels.md", import.meta.url));
/** How long the stored counts may take to catch up with what was accepted or committed. */
const CATCH_UP_MS = 120_000;
/** The pause before each baseline. */
const SETTLE_MS = 500;

const ADMIN = "admin@demo.test";
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

/** CPU ms per item between two samples, or null where CPU is not measured. */
function perItem(a: CpuSample | null, b: CpuSample | null, n: number): { serverMs: number; databaseMs: number } | null {
  if (!a || !b) return null;
  const d = cpuBetween(a, b);
  return { serverMs: d.serverMs / n, databaseMs: d.databaseMs / n };
}

function healthz(): LoadRequest {
  return { method: "GET", path: "/healthz" };
}

/** Every answer 200 with one event stored (none a duplicate): the number accepted, or an error naming the first other answer. */
function accepted(provider: ProviderName, result: LoadResult): number {
  let n = 0;
  for (const a of result.answers) {
    const body = a.status === 200 ? (JSON.parse(a.body) as { stored: number; duplicates: number }) : null;
    if (body?.stored !== 1 || body.duplicates !== 0) throw new Error(`${provider} webhook answered ${a.status} ${a.body}`);
    n += 1;
  }
  return n;
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

    /** Posts `n` webhooks of scenario `tag`; waits until all accepted ones are messages. */
    const inbound = async (p: Provider, tag: string, n: number, concurrency: number) => {
      const e = expected.get(p.channelId)!;
      const cpu0 = await target!.cpu();
      const start = performance.now();
      const result = await runLoad(url, n, concurrency, (i) => p.webhook(tag, i));
      e.accepted += accepted(p.name, result);
      e.contacts += Math.min(n, CONTACTS);
      const stored = await until(
        async () => (await customerMessages(db, p.channelId)) >= e.accepted,
        `${p.name} ${tag}: ${e.accepted} messages`,
      );
      // The intake's last step (each event marked processed) belongs to the webhook's cost too.
      await until(async () => (await storedEvents(db, p.channelId)).processed >= e.accepted, `${p.name} ${tag}: events processed`);
      return { result, storedMs: stored - start, cpu: perItem(cpu0, await target!.cpu(), n) };
    };
    /** A pause before a baseline, so the work of what came before (room broadcasts, timers) is over. */
    const settle = () => new Promise((r) => setTimeout(r, SETTLE_MS));

    // Warm-up (not reported): the HTTP path, both webhooks, the rooms' first loads.
    if (WARMUP > 0) {
      log(`[${kind}] warm-up…`);
      await runLoad(url, WARMUP * 5, Math.max(...CONCURRENCY), healthz);
      for (const p of providers) await inbound(p, "warm", WARMUP, Math.min(...CONCURRENCY));
    }

    for (const c of CONCURRENCY) {
      await settle();
      log(`[${kind}] concurrency ${c}: /healthz…`);
      const hCpu0 = await target.cpu();
      const h = await runLoad(url, WEBHOOKS, c, healthz);
      const hCpu = perItem(hCpu0, await target.cpu(), WEBHOOKS);
      if (h.answers.some((a) => a.status !== 200)) throw new Error("/healthz did not answer 200");
      const base = (v: number, name: string) => ({ value: v, name: `/healthz c=${c} ${name}` });
      rows.push({ metric: `/healthz c=${c}: requests/s`, value: h.perSecond, unit: "/s" });
      rows.push({ metric: `/healthz c=${c}: p50`, value: pct(h.latencies, 50), unit: "ms" });
      rows.push({ metric: `/healthz c=${c}: p99`, value: pct(h.latencies, 99), unit: "ms" });
      if (hCpu) rows.push({ metric: `/healthz c=${c}: server CPU per request`, value: hCpu.serverMs, unit: "cpu" });
      for (const p of providers) {
        log(`[${kind}] concurrency ${c}: ${WEBHOOKS} ${p.name} webhooks…`);
        const { result, storedMs, cpu } = await inbound(p, `c${c}`, WEBHOOKS, c);
        rows.push({
          metric: `${p.name} webhooks c=${c}: accepted/s`,
          value: result.perSecond,
          unit: "/s",
          baseline: base(h.perSecond, "req/s"),
        });
        rows.push({
          metric: `${p.name} webhooks c=${c}: answer p50`,
          value: pct(result.latencies, 50),
          unit: "ms",
          baseline: base(pct(h.latencies, 50), "p50"),
        });
        rows.push({
          metric: `${p.name} webhooks c=${c}: answer p99`,
          value: pct(result.latencies, 99),
          unit: "ms",
          baseline: base(pct(h.latencies, 99), "p99"),
        });
        rows.push({
          metric: `${p.name} webhooks c=${c}: stored as messages/s`,
          value: (WEBHOOKS / storedMs) * 1000,
          unit: "/s",
          baseline: base(h.perSecond, "req/s"),
        });
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
      await until(async () => (await storedEvents(db, p.channelId)).processed >= e.accepted, `${p.name}: events processed`);
      const events = await storedEvents(db, p.channelId);
      const messages = await customerMessages(db, p.channelId);
      const conversations = await conversationCount(db, p.channelId);
      const ok = events.all === e.accepted && events.processed === e.accepted && messages === e.accepted && conversations === e.contacts;
      const text = `${p.name}: webhooks accepted ${e.accepted}, events stored ${events.all} (processed ${events.processed}), customer messages ${messages}, conversations ${conversations} for ${e.contacts} contacts`;
      checks.push(`${ok ? "ok  " : "FAIL"} ${text}`);
      if (!ok) throw new Error(`lost or extra rows: ${text}`);
    }

    // Outbound: staff replies through real rooms, sent by the server's delivery worker to the fakes.
    await settle();
    log(`[${kind}] outbound: /healthz c=${SEND_CONVERSATIONS}…`);
    const hCpu0 = await target.cpu();
    const h = await runLoad(url, WEBHOOKS, SEND_CONVERSATIONS, healthz);
    const hCpu = perItem(hCpu0, await target.cpu(), WEBHOOKS);
    rows.push({ metric: `/healthz c=${SEND_CONVERSATIONS}: requests/s`, value: h.perSecond, unit: "/s" });
    rows.push({ metric: `/healthz c=${SEND_CONVERSATIONS}: p50`, value: pct(h.latencies, 50), unit: "ms" });
    if (hCpu) rows.push({ metric: `/healthz c=${SEND_CONVERSATIONS}: server CPU per request`, value: hCpu.serverMs, unit: "cpu" });
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
      const sentBefore = p.sent();
      const storedBefore = await sentReplies(db, p.channelId);
      log(`[${kind}] outbound: ${SENDS} ${p.name} replies in ${mine.length} rooms…`);
      const latencies: number[] = [];
      const cpu0 = await target.cpu();
      const start = performance.now();
      await Promise.all(
        mine.map(async (room, r) => {
          for (let i = r; i < SENDS; i += mine.length) {
            const t = performance.now();
            const answer = await room.reply(`bench-${p.name}-${i}`, `bench reply ${i} 👍`);
            latencies.push(performance.now() - t);
            if (!answer.ok) throw new Error(`${p.name} reply ${i} refused: ${answer.code}`);
          }
        }),
      );
      const committed = performance.now();
      const done = await until(
        async () => p.sent() - sentBefore >= SENDS && (await sentReplies(db, p.channelId)) - storedBefore >= SENDS,
        `${p.name}: ${SENDS} sends received and stored sent`,
      );
      const cpu = perItem(cpu0, await target.cpu(), SENDS);
      const sendsReceived = p.sent() - sentBefore;
      const sentStored = (await sentReplies(db, p.channelId)) - storedBefore;
      const ok = sendsReceived === SENDS && sentStored === SENDS && p.violations().length === 0;
      const text = `${p.name}: replies committed ${SENDS}, sends the fake accepted ${sendsReceived}, stored \`sent\` ${sentStored}, request shape violations ${p.violations().length}`;
      checks.push(`${ok ? "ok  " : "FAIL"} ${text}`);
      if (!ok) throw new Error(`outbound: ${text}${p.violations().length ? `\n${p.violations().slice(0, 5).join("\n")}` : ""}`);
      const baseRate = { value: h.perSecond, name: `/healthz c=${SEND_CONVERSATIONS} req/s` };
      rows.push({
        metric: `${p.name} replies committed/s (${mine.length} rooms)`,
        value: (SENDS / (committed - start)) * 1000,
        unit: "/s",
        baseline: baseRate,
      });
      rows.push({
        metric: `${p.name} reply commit p50`,
        value: pct(latencies, 50),
        unit: "ms",
        baseline: { value: pct(h.latencies, 50), name: `/healthz c=${SEND_CONVERSATIONS} p50` },
      });
      rows.push({
        metric: `${p.name} sends/s (at the fake, \`sent\` stored)`,
        value: (SENDS / (done - start)) * 1000,
        unit: "/s",
        baseline: baseRate,
      });
      if (cpu && hCpu) {
        rows.push({
          metric: `${p.name} server CPU per reply (commit + send + status)`,
          value: cpu.serverMs,
          unit: "cpu",
          baseline: { value: hCpu.serverMs, name: `/healthz c=${SEND_CONVERSATIONS} server CPU` },
        });
        rows.push({ metric: `${p.name} database CPU per reply`, value: cpu.databaseMs, unit: "cpu" });
      }
      await Promise.all(mine.map((room) => room.leave()));
      rooms.length = 0;
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

const fmt = (v: number, unit: string) =>
  unit === "ms" ? `${v.toFixed(2)} ms` : unit === "cpu" ? `${v.toFixed(3)} ms` : `${v.toFixed(0)}/s`;

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
    out.push(`**${run.kind}** (server in ${run.mode}; ${run.seconds.toFixed(0)} s)`);
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
