import type { Room } from "@colyseus/sdk";

/** Watches a conversation room's timeline and records when a message with a tagged body first appears. */
export class Watcher {
  private lastSeq = 0;
  readonly seenAt = new Map<string, number>();
  constructor(
    room: Room,
    private readonly tag: string,
  ) {
    room.onStateChange(() => {
      const messages = (room.state as { messages: { length: number; at(i: number): unknown } }).messages;
      let top = this.lastSeq;
      for (let i = messages.length - 1; i >= 0; i--) {
        const m = messages.at(i) as { seq: number; body: string };
        if (m.seq <= this.lastSeq) break;
        if (m.seq > top) top = m.seq;
        if (m.body.startsWith(this.tag)) this.seenAt.set(m.body, performance.now());
      }
      this.lastSeq = top;
    });
  }
}

/** Registers no-op handlers for the messages a benchmark does not read (the SDK warns otherwise). */
export function quiet(room: Room, types: readonly string[] = ["notice", "result", "list", "list_reset", "job"]): void {
  for (const t of types) room.onMessage(t, () => {});
}
