/** A loaded page of a list kept current by the inbox room's `list` deltas (docs/protocol.md §8.3). */
import type { ListDelta, ListItem, Status, View } from "./api.ts";

export interface Page {
  view: View;
  status: Status;
  type: "all" | "regular" | "collaborative";
  items: ListItem[];
  /** Null when the page holds the whole list (no later page). */
  nextCursor: string | null;
}

const time = (iso: string | null): number => (iso ? Date.parse(iso) : Number.NEGATIVE_INFINITY);

/** `last_message` order: `mine` pinned first, then newest message first, ties by id descending. */
export function compare(view: View, a: ListItem, b: ListItem): number {
  if (view === "mine" && a.pinned !== b.pinned) return a.pinned ? -1 : 1;
  const byTime = time(b.lastMessageAt) - time(a.lastMessageAt);
  if (byTime !== 0) return byTime;
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
    const at = items.findIndex((other) => compare(page.view, item, other) < 0);
    if (at >= 0) items.splice(at, 0, item);
    else if (page.nextCursor === null) items.push(item); // after the last row: only when nothing follows
  }
  return { ...page, items };
}
