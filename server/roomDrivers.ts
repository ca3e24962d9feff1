import { type IRoomCache, LocalDriver, type SortOptions, initializeRoomCache } from "@colyseus/core";
import { RedisDriver } from "@colyseus/redis-driver";
import { roomIdOf } from "../rooms/roomIds.ts";

/**
 * Colyseus's matchmaker drivers, with our fixed room ids put to use. Every room of ours has a
 * fixed id (rooms/roomIds.ts), so the matchmaker's conditions on a join — a room type's name and
 * its filter option, or a `roomId` — name at most one room. The stock drivers find it by scanning
 * every listing (LocalDriver: the array of all rooms; RedisDriver: `HGETALL` of the whole hash,
 * every listing parsed), which made each join cost more the more rooms a process or cluster held
 * (issue 10: inbox joins slowed from ~80/s to ~20/s between 2,000 and 5,000 members). Here such a
 * lookup is one map read or one `HGET`; other conditions go to the stock code.
 */

/** Whether a listing meets matchmaking conditions, as the stock Query does (own field, else metadata). */
function meets(room: IRoomCache, conditions: Readonly<Record<string, unknown>>): boolean {
  for (const field of Object.keys(conditions)) {
    const own = room as unknown as Record<string, unknown>;
    if (Object.hasOwn(own, field)) {
      if (own[field] !== conditions[field]) return false;
    } else if (room.metadata && Object.hasOwn(room.metadata, field)) {
      if ((room.metadata as Record<string, unknown>)[field] !== conditions[field]) return false;
    } else return false;
  }
  return true;
}

/**
 * The in-process driver (no Redis) with listings also kept by id, and each listing's place in the
 * stock driver's array: removing a room takes the last listing into its place instead of
 * searching the array and closing the gap (the stock `remove` is linear: 5.7 % of the server's CPU
 * during `npm run bench:p5`, with thousands of rooms coming and going). Listings without a sort
 * option come back in no particular order then, as from the Redis driver.
 */
export class FixedIdLocalDriver extends LocalDriver {
  private readonly byId = new Map<string, IRoomCache>();
  private readonly at = new Map<string, number>();

  override async insert(room: IRoomCache): Promise<boolean> {
    const inserted = await super.insert(room);
    if (inserted) this.added(room);
    return inserted;
  }

  override persist(room: IRoomCache, create = false): boolean {
    const persisted = super.persist(room, create);
    if (persisted) this.added(room);
    return persisted;
  }

  /** Called after the stock driver pushed `room` at the end of its array. */
  private added(room: IRoomCache): void {
    this.byId.set(room.roomId, room);
    this.at.set(room.roomId, this.rooms.length - 1);
  }

  override remove(roomId: string): boolean {
    const i = this.at.get(roomId);
    // A listing not where this driver put it (only if someone else changed the array): the stock way.
    if (i === undefined || this.rooms[i]?.roomId !== roomId) return super.remove(roomId) && this.reindex();
    const last = this.rooms.pop()!;
    if (i < this.rooms.length) {
      this.rooms[i] = last;
      this.at.set(last.roomId, i);
    }
    this.at.delete(roomId);
    this.byId.delete(roomId);
    (this as unknown as { roomIds: Set<string> }).roomIds.delete(roomId); // the stock driver's has() set
    return true;
  }

  /** After a removal the stock way: every place again. */
  private reindex(): true {
    this.at.clear();
    this.byId.clear();
    for (const [i, room] of this.rooms.entries()) {
      this.at.set(room.roomId, i);
      this.byId.set(room.roomId, room);
    }
    return true;
  }

  override clear(): void {
    this.byId.clear();
    this.at.clear();
    super.clear();
  }

  override findOne(conditions: Partial<IRoomCache>, sortOptions?: SortOptions): Promise<IRoomCache> {
    const roomId = roomIdOf(conditions);
    if (roomId === undefined) return super.findOne(conditions, sortOptions);
    const room = this.byId.get(roomId);
    return Promise.resolve((room && meets(room, conditions) ? room : undefined) as IRoomCache);
  }
}

/** The Redis hash the Redis driver keeps room listings in (`@colyseus/redis-driver`). */
const ROOMCACHES_KEY = "roomcaches";

interface HashClient {
  hsetnx(key: string, field: string, value: string): Promise<number>;
  hget(key: string, field: string): Promise<string | null>;
}

/**
 * Colyseus's Redis driver with `insert()`: a room listing is written only if no room has that id
 * yet (`HSETNX`). Our room ids are fixed, and `joinOrCreate`'s own lock waits only a fraction of a
 * second for a concurrent creation: without `insert()`, two processes joining a cold conversation
 * at once could each create its room, the second listing overwriting the first. With it, the
 * matchmaker keeps the first room, discards the other before any client joins it, and seats the
 * client in the first (Colyseus 0.18 `recordRoom`). One room per conversation across the cluster
 * (ARCHITECTURE invariant 2); the version fence stays the guard behind it. And `findOne()` by id
 * (above).
 */
export class SingleRoomRedisDriver extends RedisDriver {
  private get hash(): HashClient {
    return (this as unknown as { _client: HashClient })._client;
  }

  async insert(room: IRoomCache): Promise<boolean> {
    return (await this.hash.hsetnx(ROOMCACHES_KEY, room.roomId, JSON.stringify(room))) === 1;
  }

  override findOne(conditions: Partial<IRoomCache>, sortOptions?: SortOptions): Promise<IRoomCache> {
    const roomId = roomIdOf(conditions);
    if (roomId === undefined) return super.findOne(conditions, sortOptions);
    return this.hash.hget(ROOMCACHES_KEY, roomId).then((raw) => {
      const room = raw ? initializeRoomCache(JSON.parse(raw) as Partial<IRoomCache>) : undefined;
      return (room && meets(room, conditions) ? room : undefined) as IRoomCache;
    });
  }
}
