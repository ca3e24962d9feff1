import { type Presence, matchMaker } from "@colyseus/core";
import type { Logger } from "pino";
import { services } from "./ports.ts";
import { Topic } from "./topics.ts";

/**
 * Who is online, for the team room: a member is online while at least one of their inbox
 * connections is open, in any process. The inbox room counts connections in one presence hash per
 * workspace (`online:<workspaceId>`, field = member id, value = open connections) and, when a
 * member's count goes 0 → 1 or 1 → 0, publishes an `OnlineEvent` on the workspace's team topic.
 *
 * A process that dies without closing its connections (kill -9, a lost machine) must not leave its
 * members counted. So each process also keeps a ledger of what it added (`online:process:<processId>`,
 * field `<workspaceId>|<memberId>` = its own open connections) and a heartbeat key with a TTL
 * (`online:alive:<processId>`), and lists itself in `online:processes`. Every process's
 * `OnlineSweeper` looks, on a timer, for listed processes whose heartbeat expired and takes their
 * ledger's counts back out of the workspace hashes (telling the team rooms who went offline). Each
 * ledger field is claimed with `HDEL` before its count is subtracted, so two processes sweeping
 * the same dead process subtract it once. docs/protocol.md §9.4 says what an operator sees.
 */

/** Published on `Topic.team(workspaceId)` when a member comes online or goes offline. */
export interface OnlineEvent {
  readonly type: "online";
  readonly memberId: string;
  readonly online: boolean;
}

/** The member a connection belongs to (the inbox room's `userData`). */
export interface Connected {
  readonly id: string;
  readonly workspaceId: string;
}

export function onlineKey(workspaceId: string): string {
  return `online:${workspaceId}`;
}

const PROCESSES_KEY = "online:processes";
const ledgerKey = (processId: string) => `online:process:${processId}`;
const aliveKey = (processId: string) => `online:alive:${processId}`;
const ledgerField = (member: Connected) => `${member.workspaceId}|${member.id}`;

/** Counting steps not finished yet: a graceful stop waits for them before clearing its ledger. */
const pending = new Set<Promise<void>>();

async function publishFlip(presence: Presence, workspaceId: string, memberId: string, online: boolean): Promise<void> {
  const event: OnlineEvent = { type: "online", memberId, online };
  await presence.publish(Topic.team(workspaceId), event);
}

async function countStep(presence: Presence, member: Connected, by: 1 | -1): Promise<void> {
  try {
    const n = await presence.hincrby(onlineKey(member.workspaceId), member.id, by);
    await presence.hincrby(ledgerKey(matchMaker.processId), ledgerField(member), by);
    // Only the transitions are told: 0 → 1 (online) and 1 → 0 (offline).
    const flipped = by === 1 ? n === 1 : n === 0;
    if (flipped) await publishFlip(presence, member.workspaceId, member.id, by === 1);
  } catch (err) {
    // Presence is best effort here: the dashboard's online flag is informative, never a right.
    services().log.warn({ err, memberId: member.id }, "online count not updated");
  }
}

function step(presence: Presence, member: Connected, by: 1 | -1): Promise<void> {
  const p = countStep(presence, member, by).finally(() => pending.delete(p));
  pending.add(p);
  return p;
}

/** An inbox connection of `member` opened. Never rejects. */
export function inboxOpened(presence: Presence, member: Connected): Promise<void> {
  return step(presence, member, 1);
}

/** An inbox connection of `member` closed. Never rejects. */
export function inboxClosed(presence: Presence, member: Connected): Promise<void> {
  return step(presence, member, -1);
}

/** The ids of the workspace's members with at least one open inbox connection. */
export async function onlineMembers(presence: Presence, workspaceId: string): Promise<Set<string>> {
  const all = await presence.hgetall(onlineKey(workspaceId));
  return new Set(
    Object.entries(all ?? {})
      .filter(([, n]) => Number(n) > 0)
      .map(([id]) => id),
  );
}

/**
 * Takes a process's ledger back out of the workspace counts: each field is claimed (`HDEL`) before
 * its count is subtracted, so concurrent sweeps of one process subtract it once. Members whose
 * count reaches 0 are told offline.
 */
export async function sweepProcess(presence: Presence, processId: string): Promise<number> {
  const ledger = (await presence.hgetall(ledgerKey(processId))) ?? {};
  let swept = 0;
  for (const [field, value] of Object.entries(ledger)) {
    if (!(await presence.hdel(ledgerKey(processId), field))) continue; // another sweeper has it
    const n = Number(value);
    const bar = field.indexOf("|");
    if (!(n > 0) || bar < 0) continue;
    const workspaceId = field.slice(0, bar);
    const memberId = field.slice(bar + 1);
    const left = await presence.hincrby(onlineKey(workspaceId), memberId, -n);
    swept++;
    if (left <= 0) {
      if (left < 0) await presence.hdel(onlineKey(workspaceId), memberId); // never below zero
      await publishFlip(presence, workspaceId, memberId, false);
    }
  }
  await presence.srem(PROCESSES_KEY, processId);
  return swept;
}

/**
 * This process's heartbeat and the sweep of dead processes' online counts. One per process,
 * started with the server and stopped after its rooms are gone.
 */
export class OnlineSweeper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly presence: Presence,
    private readonly log: Logger,
    /** A process whose heartbeat is older than this is dead; the heartbeat runs every third of it. */
    private readonly ttlSeconds: number,
  ) {}

  private get processId(): string {
    return matchMaker.processId;
  }

  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => {
      this.running = this.running.then(() => this.tick());
    }, (this.ttlSeconds * 1000) / 3);
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    await this.presence.setex(aliveKey(this.processId), "1", this.ttlSeconds);
    await this.presence.sadd(PROCESSES_KEY, this.processId);
  }

  /** One heartbeat, then a sweep of every listed process whose heartbeat expired. Never rejects. */
  async tick(): Promise<void> {
    try {
      await this.beat();
      for (const pid of await this.presence.smembers(PROCESSES_KEY)) {
        if (pid === this.processId || (await this.presence.exists(aliveKey(pid)))) continue;
        const swept = await sweepProcess(this.presence, pid);
        this.log.info({ processId: pid, swept }, "online counts of a dead process swept");
      }
    } catch (err) {
      this.log.warn({ err }, "online sweep failed (retried at the next heartbeat)");
    }
  }

  /**
   * Graceful stop, after the rooms closed their connections: waits for the counting steps under
   * way, takes back whatever this process still counts, and removes its heartbeat.
   */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
    try {
      await Promise.all([...pending]);
      await sweepProcess(this.presence, this.processId);
      await this.presence.del(aliveKey(this.processId));
    } catch (err) {
      this.log.warn({ err }, "online counts not cleared at stop (another process sweeps them)");
    }
  }
}
