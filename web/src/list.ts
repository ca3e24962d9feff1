/** A loaded page of a list kept current by the inbox room's `list` deltas (docs/protocol.md §8.3). */
import type { ListDelta, ListItem, Status, View } from "./types.ts";

export type Sort = "last_message" | "overdue";
export type TypeFilter = "all" | "regular" | "collaborative";

export interface Page {
  view: View;
  status: Status;
  type: TypeFilter;
  sort: Sort;
  /** The search, "" for none. */
  q: string;
  items: ListItem[];
  /** Null when the page holds the whole list (no later page). */
  nextCursor: string | null;
  /** With a search: a conversation not shown changed, and may now match (search again to know). */
  newResults?: boolean;
}

const time = (iso: string | null, missing: number): number => (iso ? Date.parse(iso) : missing);

/** The list order of §7.3: `mine` pinned first; then newest message first (ties: id desc), or longest waiting first (not waiting last; ties: id asc). */
export function compare(page: Pick<Page, "view" | "sort">, a: ListItem, b: ListItem): number {
  if (page.view === "mine" && a.pinned !== b.pinned) return a.pinned ? -1 : 1;
  if (page.sort === "overdue") {
    const byWait = time(a.waitingSince, Number.POSITIVE_INFINITY) - time(b.waitingSince, Number.POSITIVE_INFINITY);
    if (byWait !== 0 && !Number.isNaN(byWait)) return byWait;
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  }
  const byTime = time(b.lastMessageAt, Number.NEGATIVE_INFINITY) - time(a.lastMessageAt, Number.NEGATIVE_INFINITY);
  if (byTime !== 0 && !Number.isNaN(byTime)) return byTime;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** Applies one delta to a page, as §8.3 "Applying a delta to a loaded page" says. */
export function applyDelta(page: Page, d: ListDelta): Page {
  if (d.view !== page.view) return page;
  const held = page.items.find((i) => i.id === d.conversationId);
  if (held && d.item && held.version > d.item.version) return page; // stale
  const items = page.items.filter((i) => i.id !== d.conversationId);
  const item = d.item;
  const typeMatches = (i: ListItem) => page.type === "all" || i.collaborative === (page.type === "collaborative");
  if (item && item.status === page.status && typeMatches(item)) {
    // A search cannot be decided here for message text: keep what was shown, hint at the rest.
    if (page.q && !held) return { ...page, newResults: true };
    const at = items.findIndex((other) => compare(page, item, other) < 0);
    if (at >= 0) items.splice(at, 0, item);
    else if (page.nextCursor === null) items.push(item); // after the last row: only when nothing follows
  }
  return { ...page, items };
}
