import type { Status, View } from "../domain/sets.ts";
import type { ListDelta, ListItem } from "./types.ts";

/**
 * Live lists on the client (docs/protocol.md §8.3): a page loaded with `GET /api/v2/conversations`
 * and the `list` deltas of the inbox room, merged by `applyListDelta`. Pure: no I/O.
 */

/** The list a page was read from: the query of `GET /api/v2/conversations` (docs/protocol.md §7.3). */
export interface ListQuery {
  readonly view: View;
  /** The tab; absent = every status. */
  readonly status?: Status;
  readonly type?: "all" | "regular" | "collaborative";
  readonly sort?: "last_message" | "overdue";
  readonly q?: string;
}

/** The rows of a list a client holds: the first pages of one query, in the server's order. */
export interface LoadedPage {
  readonly query: ListQuery;
  readonly items: readonly ListItem[];
  /**
   * True when the rows are the whole list (the last page read had `nextCursor: null`): an item
   * sorting after the last row then belongs at the end. False while more pages exist: such an
   * item belongs to a page not loaded yet and is left out.
   */
  readonly complete: boolean;
  /**
   * Set for a search page (`q`) when a delta brought an item that fits the tab but whose match
   * cannot be decided on the client (search covers message text): re-run the search, or show a
   * "new results" hint (docs/protocol.md §8.3, step 3).
   */
  readonly searchStale?: boolean;
}

const time = (iso: string | null): number => (iso === null ? Number.NaN : Date.parse(iso));

/**
 * The list order of docs/protocol.md §7.3: in `mine` pinned first; then `last_message`
 * (`lastMessageAt` descending, then id descending) or `overdue` (`waitingSince` ascending, not
 * waiting last, then id ascending). Ids compare by UTF-16 code units.
 */
export function compareListItems(query: ListQuery, a: ListItem, b: ListItem): number {
  if (query.view === "mine" && a.pinned !== b.pinned) return a.pinned ? -1 : 1;
  if ((query.sort ?? "last_message") === "last_message") {
    const d = time(b.lastMessageAt) - time(a.lastMessageAt);
    if (d !== 0 && !Number.isNaN(d)) return d;
    return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
  }
  const wa = time(a.waitingSince);
  const wb = time(b.waitingSince);
  if (Number.isNaN(wa) !== Number.isNaN(wb)) return Number.isNaN(wa) ? 1 : -1;
  if (!Number.isNaN(wa) && wa !== wb) return wa - wb;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Whether an item fits the page's tab and type filter (the part of the query a client can decide). */
export function fitsTab(query: ListQuery, item: ListItem): boolean {
  if (query.status !== undefined && item.status !== query.status) return false;
  const type = query.type ?? "all";
  if (type === "regular" && item.collaborative) return false;
  if (type === "collaborative" && !item.collaborative) return false;
  return true;
}

/**
 * Applies one `list` delta to a loaded page, as docs/protocol.md §8.3 says:
 * 1. a delta of another view, or older than the row held (`version` lower), changes nothing;
 * 2. the conversation is taken out of the page;
 * 3. its new item goes back in at its sort position when it belongs to the page (tab, type, search)
 *    and sorts before the last row held (or the page is the whole list).
 * A search page (`q`) keeps a row it held when the row still fits the tab (a conversation that
 * matched keeps matching: messages are only added), takes a new one whose customer name matches,
 * and otherwise marks itself `searchStale`. Returns a new page; the given one is not changed.
 */
export function applyListDelta(page: LoadedPage, delta: ListDelta): LoadedPage {
  if (delta.view !== page.query.view) return page;
  const index = page.items.findIndex((i) => i.id === delta.conversationId);
  const held = index >= 0 ? page.items[index] : undefined;
  const incoming = delta.item?.version ?? delta.version;
  if (held && held.version > incoming) return page;
  const rest = index >= 0 ? [...page.items.slice(0, index), ...page.items.slice(index + 1)] : [...page.items];
  const item = delta.item;
  let searchStale = page.searchStale;
  let belongs = item !== null && item.id === delta.conversationId && fitsTab(page.query, item);
  if (belongs && item && page.query.q !== undefined && !held) {
    const q = page.query.q.trim().toLowerCase();
    if (!item.customer.name.toLowerCase().includes(q)) {
      belongs = false;
      searchStale = true;
    }
  }
  if (!belongs || !item) return { ...page, items: rest, ...(searchStale ? { searchStale } : {}) };
  const at = rest.findIndex((row) => compareListItems(page.query, item, row) < 0);
  if (at < 0) {
    // After every row held: in this page only when the page is the whole list.
    if (page.complete) rest.push(item);
  } else {
    rest.splice(at, 0, item);
  }
  return { ...page, items: rest, ...(searchStale ? { searchStale } : {}) };
}
