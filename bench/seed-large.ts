/**
 * The large data set of the list benchmark (bench/lists.ts): one workspace with 1,000,000
 * conversations, 100,000 customers and 200 members, generated inside PostgreSQL
 * (`generate_series`, `INSERT … SELECT`), in a dedicated database next to `DATABASE_URL`.
 *
 * The schema is the app's own: `openDatabase` applies the migrations first. For the load, the
 * secondary indexes of the big tables are dropped and then rebuilt from their own definitions
 * (`pg_indexes.indexdef`, so the result is exactly the migrated schema), and foreign-key triggers
 * are skipped (`session_replication_role = replica`; the generator only writes valid references).
 * All of it is one transaction: a database either holds the whole set or none of it.
 *
 * The mix (deterministic: `setseed`):
 * - statuses: 10% pending (no follower, no collaborators, waiting), 30% in_progress, 60% closed;
 * - a follower on every non-pending conversation; `HEAVY_AGENT` follows ~5% of them;
 * - ~30% of the non-pending ones collaborative, 1–5 collaborators (never the follower);
 *   `COLLABORATOR` is a collaborator on ~20% of those and never a follower;
 * - 2% of WhatsApp conversations are groups;
 * - last_message_at over 180 days (closed), 60 days (in_progress, skewed recent), 14 days (pending);
 * - waiting_since on every pending and ~40% of in_progress conversations;
 * - every 5th conversation has 3 messages (customer, staff, customer) with order numbers, so
 *   search (R10.5) has bodies to hit; customer names mix Chinese and Latin names;
 * - member_conversation_state for the participants of in_progress conversations (unread 0–3,
 *   ~0.2% pinned) and of a third of the closed ones (read, unpinned: R12.4).
 */
import postgres from "postgres";
import { openDatabase } from "../db/client.ts";
import { DEFAULT_SETTINGS } from "../domain/model.ts";

export const BENCH_DB = "bench_lists";
export const WS = "bench";
export const CONVERSATIONS = 1_000_000;
export const CUSTOMERS = 100_000;
export const MEMBERS = 200;
/** An agent with many conversations (follower of ~5% of the non-pending ones). */
export const HEAVY_AGENT = "bm-100";
/** A cs_manager who is only ever a collaborator (~20% of the collaborative conversations). */
export const COLLABORATOR = "bm-010";
/** A supervisor: the team view. */
export const SUPERVISOR = "bm-001";

const COLLAB_IDX = Number(COLLABORATOR.slice(3));
const HEAVY_IDX = Number(HEAVY_AGENT.slice(3));
const mid = (idx: string) => `'bm-' || lpad((${idx})::text, 3, '0')`;

/** The bench database's URL: `bench_lists` next to the given one. */
export function benchUrl(baseUrl: string): string {
  const url = new URL(baseUrl);
  url.pathname = `/${BENCH_DB}`;
  return url.toString();
}

/** Makes sure the bench database exists and holds the data set; `reseed` drops it first. */
export async function ensureSeeded(
  baseUrl: string,
  opts: { reseed: boolean; log: (line: string) => void },
): Promise<{ url: string; seededNow: boolean; seconds: number }> {
  const url = benchUrl(baseUrl);
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  try {
    if (opts.reseed) await admin.unsafe(`drop database if exists ${BENCH_DB} with (force)`);
    const exists = await admin`select 1 from pg_database where datname = ${BENCH_DB}`;
    if (exists.length === 0) await admin.unsafe(`create database ${BENCH_DB}`);
  } finally {
    await admin.end();
  }
  // Migrations, exactly as the app applies them.
  const database = await openDatabase({ databaseUrl: url, dataDir: "memory://", poolSize: 1 });
  await database.close();

  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql`select count(*)::int as n from workspaces where id = ${WS}`;
    if (row?.n) {
      opts.log(`bench database ${BENCH_DB}: data set present, reused (--reseed to rebuild)`);
      return { url, seededNow: false, seconds: 0 };
    }
    const t0 = performance.now();
    opts.log(`bench database ${BENCH_DB}: seeding ${CONVERSATIONS.toLocaleString("en")} conversations …`);
    await sql.begin(async (tx) => {
      await tx.unsafe("set local session_replication_role = replica");
      await tx.unsafe("set local maintenance_work_mem = '512MB'");
      await tx.unsafe("set local synchronous_commit = off");
      const defs = await tx<{ name: string; def: string }[]>`
        select i.indexname as name, i.indexdef as def
        from pg_indexes i
        where i.schemaname = 'public'
          and i.tablename in ('conversations', 'messages', 'member_conversation_state', 'customers')
          and not exists (select 1 from pg_constraint k where k.conname = i.indexname)`;
      for (const d of defs) await tx.unsafe(`drop index "${d.name}"`);
      await seedRows(tx, opts.log, t0);
      opts.log(`  rebuilding ${defs.length} indexes …`);
      for (const d of defs) await tx.unsafe(d.def);
    });
    opts.log(`  vacuum analyze … (${elapsed(t0)})`);
    await sql.unsafe("vacuum analyze");
    const seconds = (performance.now() - t0) / 1000;
    opts.log(`  seeded in ${seconds.toFixed(0)} s`);
    return { url, seededNow: true, seconds };
  } finally {
    await sql.end();
  }
}

const elapsed = (t0: number) => `${((performance.now() - t0) / 1000).toFixed(0)} s`;

async function seedRows(tx: postgres.TransactionSql, log: (line: string) => void, t0: number): Promise<void> {
  await tx`select setseed(0.42)`;
  await tx`insert into workspaces (id, name, settings) values (${WS}, 'Bench 團隊', ${tx.json({ ...DEFAULT_SETTINGS })})`;
  // 0 admin, 1–5 supervisors, 6–15 cs_managers, 16–25 marketing_cs, the rest agents. Nobody logs in
  // (the bench signs tokens directly), so the password hash is a placeholder.
  await tx.unsafe(`
    insert into members (id, workspace_id, name, email, phone, role, status, locale, password_hash)
    select ${mid("g")}, '${WS}',
           (array['Jess','Amy','Ben','Cathy','Dan','Eve','Finn','小芳','阿明','志偉'])[1 + g % 10] || ' ' || g,
           'bm' || g || '@bench.test', '+8869' || lpad(g::text, 8, '0'),
           case when g = 0 then 'admin' when g <= 5 then 'supervisor' when g <= 15 then 'cs_manager' when g <= 25 then 'marketing_cs' else 'agent' end,
           'active', case when g % 3 = 0 then 'en' else 'zh-TW' end, 'bench-no-login'
    from generate_series(0, ${MEMBERS - 1}) g`);
  await tx.unsafe(`
    insert into customers (id, workspace_id, display_name, channel, channel_user_id, created_at)
    select 'bc-' || g, '${WS}',
           case when g % 5 < 3
             then (array['王','李','張','劉','陳','楊','黃','趙','吳','周','徐','孫','馬','朱','胡','郭','何','林','高','羅'])[1 + (g * 7) % 20]
               || (array['小明','美玲','志豪','淑芬','家豪','雅婷','俊傑','怡君','建宏','佩君','宗翰','欣怡','冠宇','詩涵','承恩'])[1 + (g / 20) % 15]
             else (array['Maria','John','Lily','David','Sarah','Kevin','Emma','Jason','Amy','Tom','Nina','Leo','Grace','Ryan','Zoe'])[1 + (g * 11) % 15]
               || ' ' || (array['Chen','Wang','Lin','Smith','Lee','Huang','Garcia','Tan','Wu','Kim'])[1 + (g / 15) % 10]
           end,
           (array['whatsapp','line','facebook','instagram','wechat','webchat'])[1 + g % 6],
           'u' || g, now() - interval '400 days' + g * interval '5 minutes'
    from generate_series(1, ${CUSTOMERS}) g`);
  log(`  customers, members (${elapsed(t0)})`);

  // One row of random numbers per conversation; `offset 0` keeps each value computed once.
  await tx.unsafe(`
    insert into conversations (id, workspace_id, customer_id, channel, kind, status, follower_id, collaborator_ids,
      version, last_seq, last_message_at, last_message_preview, last_customer_message_at, last_staff_reply_at,
      waiting_since, closed_at, created_at, updated_at)
    select 'bv-' || lpad(g::text, 7, '0'), '${WS}', 'bc-' || cu, ch,
           case when ch = 'whatsapp' and r_kind < 0.02 then 'group' else 'direct' end,
           st, fol, collab,
           1 + floor(r_n * 6)::int, case when g % 5 = 0 then 3 else 0 end,
           lma,
           case when g % 5 = 0 then (array['謝謝','Thank you!','好的','收到，謝謝'])[1 + g % 4]
                else (array['請問營業時間？','I need help with a refund','我的訂單還沒到','Is anyone there?','商品有瑕疵，可以換貨嗎？'])[1 + g % 5] end,
           lma,
           case when fol is not null then lma - interval '5 minutes' end,
           ws, case when st = 'closed' then lma + interval '10 minutes' end,
           lma - interval '1 hour' * (1 + r_n * 72), lma
    from (
      select g, st, cu, (array['whatsapp','line','facebook','instagram','wechat','webchat'])[1 + cu % 6] as ch, r_kind, r_n,
             fol,
             case when fol is not null and r_collab < 0.3 then array(
               select ${mid("v")} from (
                 select ${COLLAB_IDX} as v, 0 as ord where r_cv < 0.2
                 union all
                 select (fi + o + k) % ${MEMBERS}, k + 1 from generate_series(0, n - 1) k
                 where r_cv >= 0.2 or (fi + o + k) % ${MEMBERS} <> ${COLLAB_IDX}
               ) t order by ord limit n)
             else '{}'::text[] end as collab,
             lma,
             case when st = 'pending' then lma - interval '2 hours' * r_wait
                  when st = 'in_progress' and r_wait < 0.4 then lma - interval '6 hours' * r_wait
             end as ws
      from (
        select g, st, cu, r_kind, r_n, r_collab, r_cv, r_wait, fi, n,
               1 + floor(r_off * (${MEMBERS - 1} - n))::int as o,
               case when st = 'pending' then null else ${mid("fi")} end as fol,
               now() - interval '1 second' * 86400 * case
                 when st = 'pending' then r_time * 14 when st = 'in_progress' then r_time * r_time * 60 else r_time * 180 end as lma
        from (
          select g, r_kind, r_n, r_collab, r_cv, r_off, r_wait, r_time,
                 case when r_status < 0.1 then 'pending' when r_status < 0.4 then 'in_progress' else 'closed' end as st,
                 1 + floor(r_cust * ${CUSTOMERS})::int as cu,
                 case when r_heavy < 0.05 then ${HEAVY_IDX}
                      else (case when f = ${COLLAB_IDX} then 0 else f end) end as fi,
                 1 + floor(r_n * 5)::int as n
          from (
            select g, random() r_status, random() r_time, random() r_collab, random() r_n, random() r_off, random() r_heavy,
                   random() r_cv, random() r_wait, random() r_kind, random() r_cust, 1 + floor(random() * ${MEMBERS - 1})::int as f
            from generate_series(1, ${CONVERSATIONS}) g offset 0
          ) r0 offset 0
        ) r1 offset 0
      ) r2
    ) r3`);
  log(`  conversations (${elapsed(t0)})`);

  // Three messages on every 5th conversation; order numbers make rare search terms (A000123 …).
  await tx.unsafe(`
    insert into messages (conversation_id, seq, sender, sender_id, body, request_id, created_at)
    select c.id, m.seq,
           case when m.seq = 2 and c.follower_id is not null then 'staff' else 'customer' end,
           case when m.seq = 2 and c.follower_id is not null then c.follower_id else c.customer_id end,
           case m.seq
             when 1 then (array['我的訂單還沒到，訂單編號 ','Where is my parcel? Order ','請問可以退貨嗎？訂單 ','I want to change the size of order '])[1 + n % 4]
                         || 'A' || lpad(((n::bigint * 7919) % 1000000)::text, 6, '0')
             when 2 then (array['您好，我幫您查詢一下','Let me check that for you','已為您處理退貨','Your refund is on its way'])[1 + n % 4]
             else c.last_message_preview end,
           'seed-' || m.seq,
           c.last_message_at - interval '10 minutes' * (3 - m.seq)
    from (select id, customer_id, follower_id, last_message_at, last_message_preview, substr(id, 4)::int as n from conversations where last_seq = 3) c,
         generate_series(1, 3) as m(seq)`);
  log(`  messages (${elapsed(t0)})`);

  await tx.unsafe(`
    insert into member_conversation_state (member_id, conversation_id, unread_count, last_read_seq, pinned, pinned_at, updated_at)
    select p.member_id, c.id,
           case when c.status = 'in_progress' then floor(random() * 4)::int else 0 end,
           c.last_seq,
           pin, case when pin then c.last_message_at end, c.last_message_at
    from conversations c
    cross join lateral unnest(array[c.follower_id] || c.collaborator_ids) as p(member_id)
    cross join lateral (select c.status = 'in_progress' and random() < 0.002 as pin) x
    where c.follower_id is not null and (c.status = 'in_progress' or substr(c.id, 4)::int % 3 = 0)`);
  log(`  member_conversation_state (${elapsed(t0)})`);
}

/** `tsx bench/seed-large.ts [--reseed]`: seed only. */
if (import.meta.url === `file://${process.argv[1]}`) {
  const base = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
  await ensureSeeded(base, { reseed: process.argv.includes("--reseed"), log: (l) => console.log(l) });
}
