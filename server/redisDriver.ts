import type { IRoomCache } from "@colyseus/core";
import { RedisDriver } from "@colyseus/redis-driver";

/** The Redis hash the Redis driver keeps room listings in (`@colyseus/redis-driver`). */
const ROOMCACHES_KEY = "roomcaches";

/**
 * Colyseus's Redis driver with `insert()`: a room listing is written only if no room has that id
 * yet (`HSETNX`). Our room ids are fixed (a conversation's id, `inbox-<memberId>`,
 * `team-<workspaceId>`), and `joinOrCreate`'s own lock waits only a fraction of a second for a
 * concurrent creation: without `insert()`, two processes joining a cold conversation at once could
 * each create its room, the second listing overwriting the first. With it, the matchmaker keeps
 * the first room, discards the other before any client joins it, and seats the client in the
 * first (Colyseus 0.18 `recordRoom`). One room per conversation across the cluster
 * (ARCHITECTURE invariant 2); the version fence stays the guard behind it.
 */
export class SingleRoomRedisDriver extends RedisDriver {
  async insert(room: IRoomCache): Promise<boolean> {
    const client = (this as unknown as { _client: { hsetnx(key: string, field: string, value: string): Promise<number> } })._client;
    return (await client.hsetnx(ROOMCACHES_KEY, room.roomId, JSON.stringify(room))) === 1;
  }
}
