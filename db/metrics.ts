import { sql } from "drizzle-orm";
import type { Db } from "./client.ts";
import * as s from "./schema.ts";
import { executeRows } from "./sql.ts";

/** What `/metrics` reads from storage at each scrape (server/metrics.ts), in one statement. */
export interface StoredGauges {
  /** Outbox rows not done yet (due or waiting for a retry). */
  readonly outboxDepth: number;
  /** Seconds since the oldest due, not done outbox row became due; 0 when none is due. */
  readonly outboxLagSeconds: number;
  readonly jobsRunning: number;
  /** Items of running jobs: handled so far, and in all. */
  readonly jobItemsProcessed: number;
  readonly jobItemsTotal: number;
}

/** One read of the gauges; uses the partial pending index of the outbox and the jobs' status index. */
export async function loadStoredGauges(db: Db, now: Date): Promise<StoredGauges> {
  const o = s.outbox;
  const j = s.jobs;
  const at = now.toISOString();
  const rows = executeRows<Record<string, string | number | null>>(
    await db.execute(sql`
      select
        (select count(*) from ${o} where ${o.doneAt} is null) as outbox_depth,
        (select extract(epoch from (${at}::timestamptz - min(${o.availableAt}))) from ${o}
          where ${o.doneAt} is null and ${o.availableAt} <= ${at}::timestamptz) as outbox_lag,
        (select count(*) from ${j} where ${j.status} = 'running') as jobs_running,
        (select coalesce(sum(${j.processed}), 0) from ${j} where ${j.status} = 'running') as items_processed,
        (select coalesce(sum(${j.total}), 0) from ${j} where ${j.status} = 'running') as items_total
    `),
  );
  const r = rows[0] ?? {};
  const n = (v: unknown) => (v === null || v === undefined ? 0 : Number(v));
  return {
    outboxDepth: n(r.outbox_depth),
    outboxLagSeconds: Math.max(0, n(r.outbox_lag)),
    jobsRunning: n(r.jobs_running),
    jobItemsProcessed: n(r.items_processed),
    jobItemsTotal: n(r.items_total),
  };
}
