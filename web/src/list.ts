/**
 * A loaded page of a list kept current by the inbox room's `list` deltas (docs/protocol.md §8.3):
 * the screens' page shape over the typed client's `applyListDelta` (client/lists.ts), which does
 * the work.
 */
import { applyListDelta, compareListItems, type LoadedPage } from "../../client/index.ts";
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

function loaded(page: Page): LoadedPage {
  return {
    query: { view: page.view, status: page.status, type: page.type, sort: page.sort, ...(page.q ? { q: page.q } : {}) },
    items: page.items,
    complete: page.nextCursor === null,
    ...(page.newResults ? { searchStale: true } : {}),
  };
}

/** The list order of §7.3 (the client's `compareListItems`). */
export function compare(page: Pick<Page, "view" | "sort">, a: ListItem, b: ListItem): number {
  return compareListItems({ view: page.view, sort: page.sort }, a, b);
}

/** Applies one delta to a page, as §8.3 "Applying a delta to a loaded page" says (the client's `applyListDelta`). */
export function applyDelta(page: Page, d: ListDelta): Page {
  const before = loaded(page);
  const after = applyListDelta(before, d);
  if (after === before) return page;
  return { ...page, items: [...after.items], ...(after.searchStale ? { newResults: true } : {}) };
}
