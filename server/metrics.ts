import { matchMaker } from "@colyseus/core";
import type { Logger } from "pino";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { Db } from "../db/client.ts";
import { loadStoredGauges } from "../db/metrics.ts";
import { ACTION_TYPES } from "../domain/actions.ts";
import { ERROR_CODES } from "../domain/errors.ts";
import type { RoomMetrics } from "../rooms/ports.ts";
import type { SenderRegistry } from "./channels/senders.ts";
import type { ChannelAccount, Receive } from "./channels/types.ts";

/**
 * The Prometheus metrics of one server (`GET /metrics`, docs/protocol.md §10). A registry per app,
 * not prom-client's global one, so several servers in one process (tests) keep their own counts.
 * Counters and histograms are fed by hooks at the edges (the rooms' answer point, the webhook
 * routes' intake, the delivery senders, the HTTP middleware); gauges of what is stored (outbox,
 * jobs) and of the live rooms are read at each scrape.
 */

/** Room request types kept as labels; anything else a client sends is counted as `unknown`. */
const ROOM_TYPES = new Set<string>([...ACTION_TYPES, "customer_message", "member_departed", "auto_close_remind", "auto_close", "omo_binding", "send_csat", "triggered", "history", "log"]);
/** Outcomes kept as labels: `ok` or a known error code. */
const OUTCOMES = new Set<string>(["ok", ...ERROR_CODES]);
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
/** How long the stored gauges' read may take before a scrape answers without them. */
const STORED_GAUGES_DEADLINE_MS = 2000;

export class Metrics implements RoomMetrics {
  readonly registry = new Registry();
  private readonly roomRequests: Histogram<"action" | "outcome" | "origin">;
  private readonly httpRequests: Histogram<"method" | "status">;
  private readonly webhookEvents: Counter<"provider" | "outcome">;
  private readonly deliverySends: Counter<"provider" | "result">;
  private readonly rateLimited: Counter<"limit">;
  private readonly rooms: Gauge<"type">;
  private readonly clients: Gauge<"type">;
  private readonly roomsOk: Gauge;
  private readonly stored: Record<"depth" | "lag" | "running" | "processed" | "total" | "ok", Gauge>;

  constructor(private readonly deps: { db: Db; now: () => Date; log: Logger; databaseKind: string }) {
    const registers = [this.registry];
    // Process CPU, memory, GC and the event loop's lag (nodejs_eventloop_lag_*), per registry.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 20 });

    this.roomRequests = new Histogram({
      name: "inbox_room_request_duration_seconds",
      help: "Room requests from arrival to answer, by action (or query) type, outcome (ok or the error code) and origin (client: a room message; server: webhooks, bulk jobs, departures)",
      labelNames: ["action", "outcome", "origin"],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15],
      registers,
    });
    this.httpRequests = new Histogram({
      name: "inbox_http_request_duration_seconds",
      help: "HTTP requests served by the API (not Colyseus's /matchmake), by method and status",
      labelNames: ["method", "status"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.webhookEvents = new Counter({
      name: "inbox_webhook_events_total",
      help: "Provider events in: stored (new), duplicate (a re-delivery stored nothing), refused (the request was answered 4xx: bad signature, unknown channel, bad body, rate limited)",
      labelNames: ["provider", "outcome"],
      registers,
    });
    this.deliverySends = new Counter({
      name: "inbox_delivery_sends_total",
      help: "Staff replies sent to a provider, by provider and result (ok, or the sender's code)",
      labelNames: ["provider", "result"],
      registers,
    });
    this.rateLimited = new Counter({
      name: "inbox_rate_limited_total",
      help: "Requests refused with RATE_LIMITED, by limit",
      labelNames: ["limit"],
      registers,
    });
    new Gauge({
      name: "inbox_database_info",
      help: "The database in use (postgres or pglite); postgres.js exposes no pool counters, PGlite is one in-process connection",
      labelNames: ["kind"],
      registers,
    }).set({ kind: deps.databaseKind }, 1);

    // Read at each scrape by `refresh()`.
    this.rooms = new Gauge({ name: "inbox_rooms", help: "Rooms live in this process, by type", labelNames: ["type"], registers });
    this.clients = new Gauge({ name: "inbox_room_clients", help: "Client connections to the rooms of this process, by room type", labelNames: ["type"], registers });
    this.roomsOk = new Gauge({ name: "inbox_rooms_scrape_ok", help: "1 when the live rooms were read at this scrape", registers });
    this.stored = {
      depth: new Gauge({ name: "inbox_outbox_depth", help: "Outbox rows not done yet (all processes: read from the database)", registers }),
      lag: new Gauge({ name: "inbox_outbox_lag_seconds", help: "Age of the oldest due outbox row not done yet; 0 when none is due", registers }),
      running: new Gauge({ name: "inbox_jobs_running", help: "Background jobs (bulk actions, departures) running", registers }),
      processed: new Gauge({ name: "inbox_job_items_processed", help: "Items of running jobs handled so far", registers }),
      total: new Gauge({ name: "inbox_job_items_total", help: "Items of running jobs in all", registers }),
      ok: new Gauge({ name: "inbox_storage_scrape_ok", help: "1 when the outbox and job gauges were read from the database at this scrape", registers }),
    };
  }

  /** Reads the gauges of live rooms and of what is stored; a part that fails says so (`*_scrape_ok` 0) and keeps its last values. */
  private async refresh(): Promise<void> {
    const { db, now, log } = this.deps;
    await Promise.all([
      (async () => {
        try {
          const local = await withDeadline(matchMaker.query({ processId: matchMaker.processId }), STORED_GAUGES_DEADLINE_MS);
          this.rooms.reset();
          this.clients.reset();
          for (const r of local) {
            this.rooms.inc({ type: r.name });
            this.clients.inc({ type: r.name }, r.clients);
          }
          this.roomsOk.set(1);
        } catch (err) {
          log.warn({ err }, "metrics: rooms not read");
          this.roomsOk.set(0);
        }
      })(),
      (async () => {
        const s = this.stored;
        try {
          const g = await withDeadline(loadStoredGauges(db, now()), STORED_GAUGES_DEADLINE_MS);
          s.depth.set(g.outboxDepth);
          s.lag.set(g.outboxLagSeconds);
          s.running.set(g.jobsRunning);
          s.processed.set(g.jobItemsProcessed);
          s.total.set(g.jobItemsTotal);
          s.ok.set(1);
        } catch (err) {
          log.warn({ err }, "metrics: stored gauges not read");
          s.ok.set(0);
        }
      })(),
    ]);
  }

  /** Starts timing a room request; the returned function records its answer. */
  roomRequest(type: string | number, origin: "client" | "server"): (answer: { ok: boolean; code?: string }) => void {
    const end = this.roomRequests.startTimer();
    const action = typeof type === "string" && ROOM_TYPES.has(type) ? type : "unknown";
    return (answer) => {
      const outcome = answer.ok ? "ok" : answer.code && OUTCOMES.has(answer.code) ? answer.code : "unknown";
      end({ action, outcome, origin });
    };
  }

  httpRequest(method: string, status: number, seconds: number): void {
    this.httpRequests.observe({ method: METHODS.has(method) ? method : "OTHER", status: String(status) }, seconds);
  }

  webhook(provider: string, outcome: "stored" | "duplicate" | "refused", count = 1): void {
    if (count > 0) this.webhookEvents.inc({ provider, outcome }, count);
  }

  limited(limit: string): void {
    this.rateLimited.inc({ limit });
  }

  /** Intake's `receive`, counting what it stored and what were duplicates, by the account's provider. */
  meterReceive(receive: Receive): Receive {
    return async (account: ChannelAccount, events) => {
      const r = await receive(account, events);
      this.webhook(account.type, "stored", r.stored);
      this.webhook(account.type, "duplicate", r.duplicates);
      return r;
    };
  }

  /** Makes `registry` count every send by provider and result (the senders registered later too). */
  meterSenders(registry: SenderRegistry): SenderRegistry {
    const get = registry.get.bind(registry);
    registry.get = (type) => {
      const sender = get(type);
      if (!sender) return sender;
      return {
        send: async (account, message) => {
          try {
            const r = await sender.send(account, message);
            this.deliverySends.inc({ provider: type, result: r.ok ? "ok" : r.code });
            return r;
          } catch (err) {
            this.deliverySends.inc({ provider: type, result: "error" });
            throw err;
          }
        },
      };
    };
    return registry;
  }

  /** The text exposition (`text/plain; version=0.0.4`), the scrape-time gauges read first. */
  async render(): Promise<string> {
    await this.refresh();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}
