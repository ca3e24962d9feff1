import type { Room } from "@colyseus/sdk";
import { CONSENTED_CLOSE_CODES, FINAL_CLOSE_CODES } from "./codes.ts";
import { ClosedError, JoinError } from "./errors.ts";
import { Emitter } from "./events.ts";

/** What a room link needs from the client: a join with a fresh token. */
export interface Joiner {
  join<S>(roomName: string, options: Record<string, unknown>): Promise<Room<any, S>>;
  /** Backoff between rejoin attempts, ms (attempt 1, 2, …). */
  rejoinDelay(attempt: number): number;
  /** How long to keep trying to rejoin before giving up. */
  readonly rejoinForMs: number;
}

export interface LinkEvents {
  /** The SDK lost the connection and is reconnecting to the same seat (`room.onDrop`). */
  drop: (code: number) => void;
  /** Back on the seat (SDK reconnection) or on a new seat (rejoin): state, catch-up and resends are done. */
  reconnected: (how: "reconnect" | "rejoin") => void;
  /** The view is over: a final close (4101–4105), a consented leave, or the rejoin gave up. */
  closed: (code: number, reason: string | undefined) => void;
  /** The state changed (any patch). */
  change: () => void;
}

/** Resolves once the room's first full state has arrived (`check` holds), rejects if the room goes first. */
export function firstState<S>(room: Room<any, S>, check: (s: S) => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (error?: Error) => {
      if (done) return;
      done = true;
      room.onStateChange.remove(onState);
      room.onLeave.remove(onLeave);
      error ? reject(error) : resolve();
    };
    const onState = (s: S) => {
      if (s && check(s)) finish();
    };
    const onLeave = (code: number, reason?: string) => finish(new ClosedError(code, reason));
    room.onStateChange(onState);
    room.onLeave(onLeave);
    const now = room.state;
    if (now && check(now)) finish();
  });
}

/**
 * One room connection kept alive across losses: the SDK's own reconnection (same seat), else a
 * rejoin with backoff (docs/protocol.md §2.8). Subclasses register their message handlers in
 * `attach` and catch up in `resume`.
 */
export abstract class RoomLink<S, E extends LinkEvents = LinkEvents> extends Emitter<E> {
  protected room!: Room<any, S>;
  /** Set once the view is over: the close code and reason. */
  closed: { code: number; reason: string | undefined } | null = null;
  private leaving = false;
  private rejoining: Promise<void> | null = null;

  constructor(
    protected readonly joiner: Joiner,
    readonly roomName: string,
    protected readonly options: Record<string, unknown>,
  ) {
    super();
  }

  private emitLink<K extends keyof LinkEvents>(event: K, ...args: Parameters<LinkEvents[K]>): void {
    (this.emit as (this: unknown, event: keyof LinkEvents, ...args: unknown[]) => void).call(this, event, ...args);
  }

  /** The live SDK room (replaced after a rejoin). */
  get sdkRoom(): Room<any, S> {
    return this.room;
  }

  /** The room's current state. */
  get state(): S {
    return this.room.state;
  }

  /** True when the state has arrived (the first full state of the room). */
  protected abstract ready(state: S): boolean;
  /** Registers the room's message handlers (every type the server sends, so the SDK never warns). */
  protected abstract attach(room: Room<any, S>): void;
  /** After a reconnection or rejoin: catch up, resend. */
  protected abstract resume(how: "reconnect" | "rejoin"): Promise<void>;
  /** The view is over: reject what waits. */
  protected abstract finish(error: ClosedError): void;

  /** Joins and waits for the first state. */
  async open(): Promise<this> {
    await this.connect();
    return this;
  }

  private async connect(): Promise<void> {
    const room = await this.joiner.join<S>(this.roomName, this.options);
    this.room = room;
    room.onStateChange(() => this.emitLink("change"));
    this.attach(room);
    room.onDrop((code: number) => this.emitLink("drop", code));
    room.onReconnect(() => {
      if (this.room !== room) return;
      void this.resumed("reconnect");
    });
    await firstState(room, (s) => this.ready(s));
    room.onLeave((code: number, reason?: string) => {
      if (this.room !== room) return;
      this.lost(code, reason);
    });
  }

  private async resumed(how: "reconnect" | "rejoin"): Promise<void> {
    try {
      await this.resume(how);
      this.emitLink("reconnected", how);
    } catch (e) {
      if (!(e instanceof ClosedError)) console.error(e);
    }
  }

  private lost(code: number, reason: string | undefined): void {
    if (this.closed) return;
    if (this.leaving || CONSENTED_CLOSE_CODES.has(code) || FINAL_CLOSE_CODES.has(code)) {
      this.end(code, reason);
      return;
    }
    this.rejoining ??= this.rejoin(code, reason).finally(() => {
      this.rejoining = null;
    });
  }

  /** Rejoins after a loss the SDK could not repair (4003, 4106, 4001, an early 1006, …). */
  private async rejoin(code: number, reason: string | undefined): Promise<void> {
    const deadline = Date.now() + this.joiner.rejoinForMs;
    for (let attempt = 1; ; attempt++) {
      if (this.leaving) return this.end(code, reason);
      try {
        await this.connect();
        await this.resumed("rejoin");
        return;
      } catch (e) {
        if (e instanceof ClosedError && FINAL_CLOSE_CODES.has(e.closeCode)) return this.end(e.closeCode, e.reason);
        const refused = e instanceof ClosedError ? null : JoinError.from(e);
        if ((refused && !refused.transient) || Date.now() > deadline) return this.end(code, reason ?? refused?.message);
      }
      await new Promise((r) => setTimeout(r, this.joiner.rejoinDelay(attempt)));
    }
  }

  private end(code: number, reason: string | undefined): void {
    if (this.closed) return;
    this.closed = { code, reason };
    this.finish(new ClosedError(code, reason));
    this.emitLink("closed", code, reason);
  }

  /** Leaves the room (consented); the view is over. */
  async leave(): Promise<void> {
    this.leaving = true;
    if (this.closed) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      // A room whose socket is already gone (mid-rejoin) may never confirm the leave: do not wait long.
      await Promise.race([this.room.leave(true), new Promise((r) => (timer = setTimeout(r, 3_000)))]);
    } catch {
      // already gone
    } finally {
      clearTimeout(timer);
    }
    this.end(1000, "left by the client");
  }
}
