/**
 * List benchmark (issue 4): the inbox list queries and a 1,000-conversation bulk reopen on a large
 * workspace (1,000,000 conversations, bench/seed-large.ts), each next to a baseline measured in
 * the same run. The figures to read are the ratios; docs/bench-lists.md has a run and the plans.
 *
 *   npm run bench:lists                       # seeds bench_lists once, reuses it afterwards
 *   npm run bench:lists -- --reseed           # drop and rebuild the data set
 *   npm run bench:lists -- --write-doc        # also rewrite the generated part of docs/bench-lists.md
 *   DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test): the database `bench_lists` goes next to it
 *   BENCH_RUNS=30 BENCH_WARMUP=3 BENCH_DEEP_PAGES=20 BENCH_BULK=1000 BENCH_BULK_ROUNDS=2
 *
 * Lists: ours is `listConversations` (and `countConversations`) from db/lists.ts as the HTTP route
 * calls it: the page statement, the workspace's overdue threshold, the names of the people. "stmt"
 * is `listSelect(...)` alone, its one statement. "hand" is a statement written here by hand against
 * the same tables (postgres.js, unprepared like drizzle's) that returns the same items, names and
 * overdue flag included, in one round trip; for `mine` it unions the follower index, the collaborator
 * GIN index and the viewer's pins instead of one OR. Both are checked to return identical items
 * (first page and the deep page) before timing; runs are interleaved in rotating order.
 *
 * Bulk reopen: the real path (POST /api/v2/bulk/reopen → JobRunner → each conversation's room →
 * commit), timed until the job's `done` notice on the actor's inbox topic; next to two baselines on
 * other sets of 1,000 conversations of the same agent: a per-conversation transaction loop doing
 * the writes the room's commit does (request id, load, versioned update, log event) without rooms,
 * and one set-based transaction. The reopened conversations are closed again at the end, so runs
 * stay comparable.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import pino from "pino";
import postgres from "postgres";
import { type Database, openDatabase } from "../db/client.ts";
import type { JobView } from "../db/jobs.ts";
import { likeSubstring } from "../db/sql.ts";
import {
  countConversations,
  type ListItem,
  type ListQuery,
  listConversations,
  listSelect,
  type Viewer,
} from "../db/lists.ts";
import type { Status } from "../domain/sets.ts";
import { Topic } from "../rooms/topics.ts";
import { readTallySnapshot } from "../rooms/TeamRoom.ts";
import { startApp } from "../server/app.ts";
import { parseConfig } from "../server/config.ts";
import { COLLABORATOR, CONVERSATIONS, ensureSeeded, HEAVY_AGENT, SUPERVISOR, WS } from "./seed-large.ts";

const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 3);
const DEEP_PAGES = Number(process.env.BENCH_DEEP_PAGES ?? 20);
const BULK = Number(process.env.BENCH_BULK ?? 1000);
const BULK_ROUNDS = Number(process.env.BENCH_BULK_ROUNDS ?? 2);
const LIMIT = 50;
const BASE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const DOC = fileURLToPath(new URL("../docs/bench-lists.md", import.meta.url));

type Q = Omit<ListQuery, "cursor" | "limit">;
interface Scenario {
  readonly name: string;
  readonly viewer: Viewer;
  readonly query: Q;
}

const v = (id: string): Viewer => ({ id, workspaceId: WS });
const heavy = v(HEAVY_AGENT);
const collab = v(COLLABORATOR);
const sup = v(SUPERVISOR);
const q = (view: "mine" | "team", status: Status | undefined, type: Q["type"], sort: Q["sort"], text?: string): Q => ({
  view,
  ...(status ? { status } : {}),
  type,
  sort,
  ...(text ? { q: text } : {}),
});

const SCENARIOS: readonly Scenario[] = [
  { name: "mine agent in_progress", viewer: heavy, query: q("mine", "in_progress", "all", "last_message") },
  { name: "mine agent in_progress overdue", viewer: heavy, query: q("mine", "in_progress", "all", "overdue") },
  { name: "mine agent in_progress collab", viewer: heavy, query: q("mine", "in_progress", "collaborative", "last_message") },
  { name: "mine agent closed", viewer: heavy, query: q("mine", "closed", "all", "last_message") },
  { name: "mine agent closed q=Order", viewer: heavy, query: q("mine", "closed", "all", "last_message", "Order") },
  { name: "mine collaborator in_progress", viewer: collab, query: q("mine", "in_progress", "all", "last_message") },
  { name: "mine collaborator closed collab", viewer: collab, query: q("mine", "closed", "collaborative", "last_message") },
  { name: "team pending", viewer: sup, query: q("team", "pending", "all", "last_message") },
  { name: "team pending overdue", viewer: sup, query: q("team", "pending", "all", "overdue") },
  { name: "team in_progress collab", viewer: sup, query: q("team", "in_progress", "collaborative", "last_message") },
  { name: "team in_progress regular overdue", viewer: sup, query: q("team", "in_progress", "regular", "overdue") },
  { name: "team closed", viewer: sup, query: q("team", "closed", "all", "last_message") },
  { name: "team closed regular", viewer: sup, query: q("team", "closed", "regular", "last_message") },
  { name: "team any status", viewer: sup, query: q("team", undefined, "all", "last_message") },
  { name: "team q=王小明 (name)", viewer: sup, query: q("team", undefined, "all", "last_message", "王小明") },
  { name: "team in_progress q=Maria", viewer: sup, query: q("team", "in_progress", "all", "last_message", "Maria") },
  { name: "team q=A004242 (message)", viewer: sup, query: q("team", undefined, "all", "last_message", "A004242") },
];

// ---- timing ------------------------------------------------------------------------------------

function pct(xs: readonly number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** Warm-up, then `RUNS` rounds; each round runs every contender once, in rotating order. */
async function interleaved(fns: Record<string, () => Promise<unknown>>): Promise<Record<string, number[]>> {
  const names = Object.keys(fns);
  const out: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let i = 0; i < WARMUP; i++) for (const n of names) await fns[n]!();
  for (let i = 0; i < RUNS; i++) {
    for (let j = 0; j < names.length; j++) {
      const n = names[(i + j) % names.length]!;
      out[n]!.push(await timed(fns[n]!));
    }
  }
  return out;
}

// ---- the hand-written statements ----------------------------------------------------------------

/** A hand cursor: the last row's pin (mine), its sort key as timestamptz text (exact), its id. */
interface HandCursor {
  readonly p: boolean | undefined;
  readonly k: string | null;
  readonly id: string;
}

interface HandRow {
  id: string;
  status: Status;
  kind: ListItem["kind"];
  collaborative: boolean;
  channel: ListItem["channel"];
  customer_id: string;
  customer_name: string;
  follower: ListItem["follower"];
  collaborators: ListItem["collaborators"];
  last_message_at: Date;
  last_message_preview: string | null;
  waiting_since: Date | null;
  overdue: boolean;
  unread_count: number;
  pinned: boolean;
  version: number;
  k: string | null;
}

/** One page, as a single hand-written statement. Parameters are numbered as they are added. */
export function handList(viewer: Viewer, query: Q, after: HandCursor | null, now: Date): { text: string; params: unknown[] } {
  const params: unknown[] = [];
  const p = (value: unknown, cast = "") => {
    params.push(value);
    return `$${params.length}${cast}`;
  };
  const ws = p(viewer.workspaceId);
  const me = p(viewer.id);
  const byLast = query.sort === "last_message";
  const key = byLast ? "c.last_message_at" : "c.waiting_since";
  // `desc nulls last` as the indexes are declared (the columns are never null, so the rows are the same).
  const order = byLast ? "c.last_message_at desc nulls last, c.id desc nulls last" : "c.waiting_since asc nulls last, c.id asc";
  const limit = p(LIMIT + 1, "::int");
  const filters: string[] = [`c.workspace_id = ${ws}`];
  if (query.status) filters.push(`c.status = ${p(query.status)}`);
  if (query.type !== "all") filters.push(`c.collaborative = ${query.type === "collaborative"}`);
  let hits = "";
  if (query.q) {
    // The message hits once (materialized), however many branches test them.
    const pattern = p(likeSubstring(query.q));
    hits = `hits as materialized (select m.conversation_id from messages m where m.body ilike ${pattern} and m.sender <> 'system'), `;
    filters.push(
      `(exists (select 1 from customers s where s.id = c.customer_id and s.display_name ilike ${pattern}) or c.id in (select conversation_id from hits))`,
    );
  }
  // The key goes in as text: postgres.js would turn a timestamptz parameter into a JS Date (milliseconds).
  const rest = (): string => {
    if (!after) return "true";
    if (byLast) return `(c.last_message_at, c.id) < (${p(after.k, "::text::timestamptz")}, ${p(after.id)})`;
    if (after.k === null) return `(c.waiting_since is null and c.id > ${p(after.id)})`;
    return `((c.waiting_since, c.id) > (${p(after.k, "::text::timestamptz")}, ${p(after.id)}) or c.waiting_since is null)`;
  };
  const where = filters.join(" and ");

  let page: string;
  if (query.view === "team") {
    page = `select c.id, ${key}::text as k, false as pin from conversations c where ${where} and ${rest()} order by ${order} limit ${limit}`;
  } else {
    // Candidates: the viewer's pinned conversations, and the first page of unpinned ones from each
    // index (follower btree, collaborators GIN) after the cursor; then one ordered page of those.
    const pinned = `(select conversation_id from member_conversation_state where member_id = ${me} and pinned)`;
    const unpinnedAfter = after && after.p === false ? rest() : "true";
    const branch = (who: string) =>
      `(select c.id from conversations c where ${who} and ${where} and ${unpinnedAfter} and c.id not in ${pinned} order by ${order} limit ${limit})`;
    const outerAfter = !after
      ? "true"
      : after.p
        ? `(not x.pin or (${rest().replaceAll("c.", "x.")}))`
        : `(not x.pin and ${rest().replaceAll("c.", "x.")})`;
    page = `
      select x.id, x.k, x.pin from (
        select c.id, c.last_message_at, c.waiting_since, ${key}::text as k, (c.id in ${pinned}) as pin
        from (${branch(`c.follower_id = ${me}`)} union ${branch(`c.collaborator_ids @> array[${me}]::text[]`)}
              union (select c.id from conversations c where c.id in ${pinned} and (c.follower_id = ${me} or c.collaborator_ids @> array[${me}]::text[]) and ${where})
        ) cand join conversations c on c.id = cand.id
      ) x
      where ${outerAfter}
      order by x.pin desc, ${order.replaceAll("c.", "x.")} limit ${limit}`;
  }
  const text = `
    with ${hits}page as (${page}),
    threshold as (select ${p(now, "::timestamptz")} - make_interval(mins => coalesce((settings->>'overdueAfterMinutes')::int, 30)) as t from workspaces where id = ${ws})
    select c.id, c.status, c.kind, c.collaborative, c.channel, c.customer_id, cu.display_name as customer_name,
           case when f.id is not null then json_build_object('id', f.id, 'name', f.name, 'role', f.role)
                when c.follower_id is not null then json_build_object('id', c.follower_id, 'name', '?', 'role', 'agent') end as follower,
           (select coalesce(json_agg(json_build_object('id', u.mid, 'name', coalesce(mm.name, '?'), 'role', coalesce(mm.role, 'agent')) order by u.ord), '[]'::json)
              from unnest(c.collaborator_ids) with ordinality as u(mid, ord) left join members mm on mm.id = u.mid) as collaborators,
           c.last_message_at, c.last_message_preview, c.waiting_since,
           (c.status <> 'closed' and c.waiting_since is not null and c.waiting_since <= (select t from threshold)) as overdue,
           coalesce(st.unread_count, 0) as unread_count, coalesce(st.pinned, false) as pinned, c.version, page.k
    from page
    join conversations c on c.id = page.id
    join customers cu on cu.id = c.customer_id
    left join members f on f.id = c.follower_id
    left join member_conversation_state st on st.conversation_id = c.id and st.member_id = ${me}
    order by ${query.view === "mine" ? "coalesce(st.pinned, false) desc, " : ""}${order}`;
  return { text, params };
}

export async function runHand(
  sql: postgres.Sql,
  viewer: Viewer,
  query: Q,
  after: HandCursor | null,
  now: Date,
): Promise<{ rows: HandRow[]; next: HandCursor | null }> {
  const { text, params } = handList(viewer, query, after, now);
  const rows = (await sql.unsafe(text, params as postgres.ParameterOrJSON<never>[])) as unknown as HandRow[];
  const page = rows.slice(0, LIMIT);
  const last = page.at(-1);
  return {
    rows: page,
    next: rows.length > LIMIT && last ? { p: query.view === "mine" ? last.pinned : undefined, k: last.k, id: last.id } : null,
  };
}

/** The counts as one hand-written statement. */
async function handCounts(sql: postgres.Sql, viewer: Viewer, view: "mine" | "team") {
  const rows =
    view === "team"
      ? await sql.unsafe("select status, collaborative, count(*)::int as n from conversations where workspace_id = $1 group by 1, 2", [
          viewer.workspaceId,
        ])
      : await sql.unsafe(
          `select status, collaborative, count(*)::int as n from (
             select id, status, collaborative from conversations where workspace_id = $1 and follower_id = $2
             union
             select id, status, collaborative from conversations where workspace_id = $1 and collaborator_ids @> array[$2]::text[]) t
           group by 1, 2`,
          [viewer.workspaceId, viewer.id],
        );
  const out: Record<string, { regular: number; collaborative: number }> = {
    pending: { regular: 0, collaborative: 0 },
    in_progress: { regular: 0, collaborative: 0 },
    closed: { regular: 0, collaborative: 0 },
  };
  for (const r of rows) out[r.status as string]![r.collaborative ? "collaborative" : "regular"] = r.n as number;
  return out;
}

// ---- equality of the two answers -----------------------------------------------------------------

const norm = (i: ListItem) => ({
  id: i.id,
  status: i.status,
  kind: i.kind,
  collaborative: i.collaborative,
  channel: i.channel,
  customer: { id: i.customer.id, name: i.customer.name },
  follower: i.follower ? { id: i.follower.id, name: i.follower.name, role: i.follower.role } : null,
  collaborators: i.collaborators.map((c) => ({ id: c.id, name: c.name, role: c.role })),
  lastMessageAt: i.lastMessageAt,
  lastMessagePreview: i.lastMessagePreview,
  waitingSince: i.waitingSince,
  overdue: i.overdue,
  unreadCount: i.unreadCount,
  pinned: i.pinned,
  version: i.version,
});
const normHand = (r: HandRow) =>
  norm({
    id: r.id,
    status: r.status,
    kind: r.kind,
    collaborative: r.collaborative,
    channel: r.channel,
    customer: { id: r.customer_id, name: r.customer_name },
    follower: r.follower,
    collaborators: r.collaborators,
    lastMessageAt: r.last_message_at.toISOString(),
    lastMessagePreview: r.last_message_preview,
    waitingSince: r.waiting_since ? r.waiting_since.toISOString() : null,
    overdue: r.overdue,
    unreadCount: r.unread_count,
    pinned: r.pinned,
    version: r.version,
  });

function sameItems(label: string, ours: readonly ListItem[], hand: readonly HandRow[]): void {
  const a = JSON.stringify(ours.map(norm));
  const b = JSON.stringify(hand.map(normHand));
  if (a !== b) {
    const i = ours.findIndex((o, k) => JSON.stringify(norm(o)) !== JSON.stringify(hand[k] ? normHand(hand[k]) : null));
    throw new Error(
      `${label}: ours and hand differ (${ours.length} vs ${hand.length} items; first difference at ${i}):\n ours ${JSON.stringify(ours[i] ? norm(ours[i]) : null)}\n hand ${JSON.stringify(hand[i] ? normHand(hand[i]) : null)}`,
    );
  }
}

// ---- lists ---------------------------------------------------------------------------------------

interface Line {
  readonly name: string;
  readonly items: number;
  readonly ours: number[];
  readonly stmt: number[] | null;
  readonly hand: number[];
}
interface Plan {
  readonly name: string;
  readonly text: string;
}

async function benchLists(database: Database, sql: postgres.Sql, now: Date): Promise<{ lines: Line[]; plans: Plan[] }> {
  const db = database.db;
  const lines: Line[] = [];
  const plans: Plan[] = [];
  const explain = async (name: string, built: { sql: string; params: unknown[] }) => {
    const rows = await sql.unsafe(`explain (analyze, buffers) ${built.sql}`, built.params as postgres.ParameterOrJSON<never>[]);
    plans.push({ name, text: rows.map((r) => r["QUERY PLAN"] as string).join("\n") });
  };
  for (const sc of SCENARIOS) {
    // Walk both to the deep page, checking every page on the way.
    let ourCursor: string | undefined;
    let handCursor: HandCursor | null = null;
    let pages = 0;
    let first = { ours: [] as ListItem[] };
    for (let page = 0; page <= DEEP_PAGES; page++) {
      const ours = await listConversations(db, sc.viewer, { ...sc.query, limit: LIMIT, ...(ourCursor ? { cursor: ourCursor } : {}) }, now);
      const hand = await runHand(sql, sc.viewer, sc.query, handCursor, now);
      sameItems(`${sc.name}, page ${page + 1}`, ours.items, hand.rows);
      if (page === 0) first = { ours: ours.items };
      if (page === DEEP_PAGES || !ours.nextCursor || !hand.next) break;
      ourCursor = ours.nextCursor;
      handCursor = hand.next;
      pages = page + 1;
    }
    const variants: { label: string; cursor: string | undefined; hc: HandCursor | null }[] = [{ label: "p1", cursor: undefined, hc: null }];
    if (pages > 0) variants.push({ label: `p${pages + 1}`, cursor: ourCursor, hc: handCursor });
    for (const vr of variants) {
      const query: ListQuery = { ...sc.query, limit: LIMIT, ...(vr.cursor ? { cursor: vr.cursor } : {}) };
      const name = `${sc.name} ${vr.label}`;
      const t = await interleaved({
        ours: () => listConversations(db, sc.viewer, query, now),
        stmt: () => listSelect(db, sc.viewer, query).select,
        hand: () => runHand(sql, sc.viewer, sc.query, vr.hc, now),
      });
      const items = vr.cursor ? (await listConversations(db, sc.viewer, query, now)).items.length : first.ours.length;
      lines.push({ name, items, ours: t.ours!, stmt: t.stmt!, hand: t.hand! });
      printLine(lines.at(-1)!);
      await explain(name, listSelect(db, sc.viewer, query).select.toSQL());
    }
  }
  for (const [name, viewer, view] of [
    ["counts mine agent", heavy, "mine"],
    ["counts mine collaborator", collab, "mine"],
    ["counts team", sup, "team"],
  ] as const) {
    const ours = await countConversations(db, viewer, view);
    const hand = await handCounts(sql, viewer, view);
    if (JSON.stringify(ours) !== JSON.stringify(hand))
      throw new Error(`${name}: ours ${JSON.stringify(ours)} hand ${JSON.stringify(hand)}`);
    const t = await interleaved({ ours: () => countConversations(db, viewer, view), hand: () => handCounts(sql, viewer, view) });
    lines.push({
      name,
      items: Object.values(ours).reduce((n, c) => n + c.regular + c.collaborative, 0),
      ours: t.ours!,
      stmt: null,
      hand: t.hand!,
    });
    printLine(lines.at(-1)!);
  }
  // The team room's first join: its snapshot (counts, open loads, recent versions in one
  // repeatable-read transaction) next to the plain team count statement.
  {
    const snap = await readTallySnapshot(db, sup.workspaceId, now);
    const t = await interleaved({ ours: () => readTallySnapshot(db, sup.workspaceId, now), hand: () => handCounts(sql, sup, "team") });
    lines.push({
      name: "team room snapshot",
      items: snap.following.length + snap.collaborating.length,
      ours: t.ours!,
      stmt: null,
      hand: t.hand!,
    });
    printLine(lines.at(-1)!);
  }
  return { lines, plans };
}

const fmt = (ms: number) => ms.toFixed(2).padStart(8);
function lineText(l: Line): string {
  const ratio = pct(l.ours, 50) / pct(l.hand, 50);
  return `${l.name.padEnd(42)} ${String(l.items).padStart(7)}  ${fmt(pct(l.ours, 50))} ${fmt(pct(l.ours, 95))}  ${l.stmt ? fmt(pct(l.stmt, 50)) : "       –"}  ${fmt(pct(l.hand, 50))} ${fmt(pct(l.hand, 95))}  ${ratio.toFixed(2).padStart(6)}×`;
}
const HEADER = `${"query (50 per page; pN = page N by cursor)".padEnd(42)} ${"items".padStart(7)}  ${"ours p50".padStart(8)} ${"p95".padStart(8)}  ${"stmt p50".padStart(8)}  ${"hand p50".padStart(8)} ${"p95".padStart(8)}  ours/hand`;
function printLine(l: Line): void {
  console.log(lineText(l));
}

// ---- bulk reopen ---------------------------------------------------------------------------------

interface BulkRound {
  readonly ours: number;
  readonly loop: number;
  readonly set: number;
}

async function benchBulk(url: string, sql: postgres.Sql): Promise<{ rounds: BulkRound[]; ids: string[] }> {
  const picked = await sql<{ id: string }[]>`
    select id from conversations where workspace_id = ${WS} and follower_id = ${HEAVY_AGENT} and status = 'closed'
    order by last_message_at desc, id desc limit ${BULK * 3 * BULK_ROUNDS}`;
  const ids = picked.map((r) => r.id);
  if (ids.length < BULK * 3 * BULK_ROUNDS) throw new Error(`not enough closed conversations for ${HEAVY_AGENT}`);
  const app = await startApp(
    parseConfig({
      PORT: "0",
      HOST: "127.0.0.1",
      DATA_DIR: "memory://",
      SEED_DEMO: "false",
      JWT_SECRET: "bench-secret-bench-secret-bench-secret",
      DATABASE_URL: url,
    }),
    { log: pino({ level: "silent" }) },
  );
  const rounds: BulkRound[] = [];
  try {
    const [member] = await sql<{ id: string; workspaceId: string; role: string; tokenVersion: number }[]>`
      select id, workspace_id as "workspaceId", role, token_version as "tokenVersion" from members where id = ${HEAVY_AGENT}`;
    const token = await app.auth.signAccess(member!);
    let waiting: { id: string; resolve: () => void } | null = null;
    await app.presence.subscribe(Topic.inbox(HEAVY_AGENT), (event: { type: string; job?: JobView }) => {
      if (event.type === "job" && event.job && waiting && event.job.id === waiting.id && event.job.status !== "running") waiting.resolve();
    });

    const ours = async (set: string[]) => {
      const t0 = performance.now();
      let done!: () => void;
      const finished = new Promise<void>((r) => {
        done = r;
      });
      const res = await fetch(`${app.url}/api/v2/bulk/reopen`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ conversationIds: set, view: "mine" }),
      });
      if (res.status !== 202) throw new Error(`bulk reopen: ${res.status} ${await res.text()}`);
      const { job } = (await res.json()) as { job: JobView };
      waiting = { id: job.id, resolve: done };
      const [now] = await sql`select status from jobs where id = ${job.id}`;
      if (now?.status !== "running") done();
      await finished;
      const ms = performance.now() - t0;
      const outcomes = await sql`select outcome, count(*)::int as n from job_items where job_id = ${job.id} group by 1`;
      if (outcomes.length !== 1 || outcomes[0]!.outcome !== "ok" || outcomes[0]!.n !== set.length)
        throw new Error(`bulk reopen outcomes: ${JSON.stringify(outcomes)}`);
      return ms;
    };
    const run = `${Date.now().toString(36)}`;
    // What the room's commit writes for one reopen, one transaction per conversation, no rooms.
    const loop = async (set: string[]) => {
      const t0 = performance.now();
      for (const id of set) {
        await sql.begin(async (tx) => {
          await tx`insert into processed_requests (conversation_id, member_id, request_id) values (${id}, ${HEAVY_AGENT}, ${`bench-loop:${run}`})`;
          const [c] = await tx`
            select c.version, c.status, c.follower_id, w.settings from conversations c
            join customers cu on cu.id = c.customer_id join workspaces w on w.id = c.workspace_id where c.id = ${id}`;
          if (c?.status !== "closed") throw new Error(`${id} is not closed`);
          const [u] = await tx`
            update conversations set status = case when follower_id is null then 'pending' else 'in_progress' end, closed_at = null,
              version = version + 1, last_seq = last_seq + 1, updated_at = now()
            where id = ${id} and version = ${c.version} returning last_seq`;
          await tx`insert into conversation_events (conversation_id, seq, kind, actor_id, target_ids, created_at)
                   values (${id}, ${u!.last_seq}, 'reopened', ${HEAVY_AGENT}, '{}', now())`;
        });
      }
      return performance.now() - t0;
    };
    const set = async (chosen: string[]) => {
      const t0 = performance.now();
      await sql.begin(async (tx) => {
        await tx`insert into processed_requests (conversation_id, member_id, request_id) select unnest(${chosen}::text[]), ${HEAVY_AGENT}, ${`bench-set:${run}`}`;
        const r = await tx`
          with up as (
            update conversations set status = case when follower_id is null then 'pending' else 'in_progress' end, closed_at = null,
              version = version + 1, last_seq = last_seq + 1, updated_at = now()
            where id = any(${chosen}::text[]) and status = 'closed' returning id, last_seq)
          insert into conversation_events (conversation_id, seq, kind, actor_id, target_ids, created_at)
          select id, last_seq, 'reopened', ${HEAVY_AGENT}, '{}', now() from up`;
        if (r.count !== chosen.length) throw new Error(`set-based reopen touched ${r.count}`);
      });
      return performance.now() - t0;
    };
    for (let round = 0; round < BULK_ROUNDS; round++) {
      const base = round * 3 * BULK;
      const sets = [ids.slice(base, base + BULK), ids.slice(base + BULK, base + 2 * BULK), ids.slice(base + 2 * BULK, base + 3 * BULK)];
      // Alternate the order between rounds so drift in the machine's load is shared.
      const r =
        round % 2 === 0
          ? { loop: await loop(sets[0]!), ours: await ours(sets[1]!), set: await set(sets[2]!) }
          : { set: await set(sets[0]!), ours: await ours(sets[1]!), loop: await loop(sets[2]!) };
      rounds.push(r);
      console.log(
        `bulk reopen ${BULK} round ${round + 1}: ours ${(r.ours / 1000).toFixed(2)} s, loop ${(r.loop / 1000).toFixed(2)} s, set ${(r.set / 1000).toFixed(2)} s  → ours/loop ${(r.ours / r.loop).toFixed(1)}×, ours/set ${(r.ours / r.set).toFixed(0)}×`,
      );
    }
  } finally {
    await app.stop();
  }
  return { rounds, ids };
}

/** Puts the reopened conversations back as they were seeded (closed), so the next run sees the same lists. */
async function restore(sql: postgres.Sql, ids: string[]): Promise<void> {
  await sql`update conversations set status = 'closed', closed_at = last_message_at + interval '10 minutes' where id = any(${ids}::text[])`;
}

// ---- report --------------------------------------------------------------------------------------

function median(xs: number[]): number {
  return pct(xs, 50);
}

function writeDoc(report: string, plans: Plan[]): void {
  const begin = "<!-- bench:lists:begin (generated by npm run bench:lists -- --write-doc) -->";
  const end = "<!-- bench:lists:end -->";
  const doc = readFileSync(DOC, "utf8");
  const a = doc.indexOf(begin);
  const b = doc.indexOf(end);
  if (a < 0 || b < a) throw new Error(`${DOC}: markers not found`);
  const planText = plans.map((p) => `<details><summary>${p.name}</summary>\n\n\`\`\`\n${p.text}\n\`\`\`\n\n</details>\n`).join("\n");
  const generated = `${begin}\n\n\`\`\`\n${report}\n\`\`\`\n\n### Plans (our statement, \`listSelect(...).toSQL()\`, EXPLAIN (ANALYZE, BUFFERS), after the timed runs)\n\n${planText}\n${end}`;
  writeFileSync(DOC, doc.slice(0, a) + generated + doc.slice(b + end.length));
}

async function main() {
  const args = process.argv.slice(2);
  const t0 = performance.now();
  const seeded = await ensureSeeded(BASE_URL, { reseed: args.includes("--reseed"), log: (l) => console.log(l) });
  const database = await openDatabase({ databaseUrl: seeded.url, dataDir: "memory://", poolSize: 2, statementTimeoutMs: 600_000 }); // measured, not bounded: a slow plan shows as a figure, not as a timeout
  const sql = postgres(seeded.url, { max: 2, onnotice: () => {} });
  const out: string[] = [];
  const say = (line: string) => {
    out.push(line);
    console.log(line);
  };
  try {
    const [{ n } = { n: 0 }] = await sql<{ n: number }[]>`select count(*)::int as n from conversations where workspace_id = ${WS}`;
    if (n < CONVERSATIONS) throw new Error(`bench database holds ${n} conversations, expected ${CONVERSATIONS}: run with --reseed`);
    const [pg] = await sql`select version() as v, current_setting('shared_buffers') as sb, current_setting('work_mem') as wm`;
    const now = new Date();
    console.log(`\nlists: ${RUNS} runs after ${WARMUP} warm-up, interleaved; times in ms`);
    console.log(HEADER);
    const t1 = performance.now();
    const { lines, plans } = await benchLists(database, sql, now);
    const listSeconds = (performance.now() - t1) / 1000;
    console.log("");
    const t2 = performance.now();
    const bulk = BULK_ROUNDS > 0 ? await benchBulk(seeded.url, sql) : { rounds: [], ids: [] };
    await restore(sql, bulk.ids);
    const bulkSeconds = (performance.now() - t2) / 1000;

    const ratios = lines.map((l) => pct(l.ours, 50) / pct(l.hand, 50));
    const stmtRatios = lines.filter((l) => l.stmt).map((l) => pct(l.stmt!, 50) / pct(l.hand, 50));
    say(`list benchmark, ${new Date().toISOString()}`);
    say(
      `data: ${n.toLocaleString("en")} conversations, 100,000 customers, 200 members in one workspace (bench_lists${seeded.seededNow ? `, seeded in ${seeded.seconds.toFixed(0)} s` : ", reused"})`,
    );
    say(`${String(pg?.v).split(" on ")[0]}, shared_buffers ${pg?.sb}, work_mem ${pg?.wm}; node ${process.version}`);
    say(`lists: ${RUNS} runs after ${WARMUP} warm-up per query, ours/stmt/hand interleaved; ms`);
    say("");
    say(HEADER);
    for (const l of lines) say(lineText(l));
    say("");
    say(
      `headline: ours/hand p50 ratio, median over ${ratios.length} queries ${median(ratios).toFixed(2)}×, worst ${Math.max(...ratios).toFixed(2)}×; ` +
        `stmt/hand median ${median(stmtRatios).toFixed(2)}×, worst ${Math.max(...stmtRatios).toFixed(2)}×`,
    );
    if (bulk.rounds.length) {
      const r = (f: (x: BulkRound) => number) => median(bulk.rounds.map(f));
      say(
        `bulk reopen of ${BULK} (${bulk.rounds.length} rounds, median): ours ${(r((x) => x.ours) / 1000).toFixed(2)} s (${(r((x) => x.ours) / BULK).toFixed(1)} ms/conversation), ` +
          `loop ${(r((x) => x.loop) / 1000).toFixed(2)} s, set ${(r((x) => x.set) / 1000).toFixed(2)} s → ours/loop ${r((x) => x.ours / x.loop).toFixed(1)}×, ours/set ${r((x) => x.ours / x.set).toFixed(0)}×`,
      );
    }
    say(
      `time: lists ${listSeconds.toFixed(0)} s, bulk ${bulkSeconds.toFixed(0)} s, total ${((performance.now() - t0) / 1000).toFixed(0)} s`,
    );
    if (args.includes("--write-doc")) {
      writeDoc(out.join("\n"), plans);
      console.log(`wrote ${DOC}`);
    }
  } finally {
    await sql.end();
    await database.close();
  }
}

if (!process.env.BENCH_NO_MAIN) await main();
