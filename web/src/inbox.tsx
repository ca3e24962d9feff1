import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, type ListItem, listConversations, type Status, takeEarlyPage, type View } from "./api.ts";
import { href, type Route } from "./app.tsx";
import { BulkBar } from "./bulk.tsx";
import type { T } from "./i18n.ts";
import { PinIcon } from "./icons.tsx";
import type { ListSubscriber } from "./inboxRoom.ts";
import { applyDelta, type Page, type Sort, type TypeFilter } from "./list.ts";

const STATUSES: Status[] = ["pending", "in_progress", "closed"];

function tabCount(counts: Record<string, number>, view: View, status: Status, type: TypeFilter): number {
  const of = (kind: string) => counts[`${view}.${status}.${kind}`] ?? 0;
  return type === "all" ? of("regular") + of("collaborative") : of(type);
}

export function InboxScreen(props: {
  t: T;
  route: Extract<Route, { screen: "inbox" }>;
  counts: Record<string, number>;
  teamView: boolean;
  subscribe: (s: ListSubscriber) => () => void;
}) {
  const { t, counts, teamView, subscribe } = props;
  const view: View = props.route.view === "team" && teamView ? "team" : "mine";
  const status = props.route.status;
  const [type, setType] = useState<TypeFilter>("all");
  const [chosenSort, setSort] = useState<Sort>("last_message");
  const sort: Sort = status === "closed" ? "last_message" : chosenSort; // overdue only on open tabs (R10.3)
  const [search, setSearch] = useState("");
  const [q, setQ] = useState("");
  useEffect(() => {
    const timer = setTimeout(() => setQ(search.trim()), 300);
    return () => clearTimeout(timer);
  }, [search]);
  const [page, setPage] = useState<Page | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [reload, setReload] = useState(0);
  // Bulk selection (§7.5): of the rows loaded in this list; another list starts empty.
  const [selected, setSelected] = useState<string[]>([]);
  useEffect(() => setSelected([]), [view, status, type, q]);
  const toggle = (id: string) => setSelected((held) => (held.includes(id) ? held.filter((x) => x !== id) : [...held, id]));

  useEffect(() => {
    let gone = false;
    const query = { view, status, type, sort, q };
    // Deltas go to the rows shown and, while a read is on its way, into a buffer applied to its
    // answer with the version rule (§8.7).
    let buffered: Parameters<ListSubscriber["delta"]>[0][] | null = null;
    // A reset (the room joined or rejoined, `list_reset`) while a read is on its way does not throw
    // that read away: its answer is shown (with the buffered deltas), then the list is read once more.
    let again = false;
    const load = (request: Promise<{ items: ListItem[]; nextCursor: string | null }>) => {
      buffered = [];
      again = false;
      request
        .then((res) => {
          if (gone) return;
          const deltas = buffered ?? [];
          buffered = null;
          setPage(deltas.reduce(applyDelta, { ...query, items: res.items, nextCursor: res.nextCursor }));
          if (again) load(listConversations(query));
        })
        .catch((err) => {
          if (gone) return;
          buffered = null;
          setError(err instanceof ApiError ? err.message : String(err));
        });
    };
    const unsubscribe = subscribe({
      delta: (d) => {
        if (d.view !== view) return;
        buffered?.push(d);
        setPage((p) => (p ? applyDelta(p, d) : p));
      },
      reset: (views) => {
        if (!views.includes(view)) return;
        if (buffered) again = true;
        else load(listConversations(query));
      },
    });
    // A reload of the same list (the "new results" hint) keeps showing the rows until the new ones arrive.
    setPage((p) => (p && p.view === view && p.status === status && p.type === type && p.sort === sort && p.q === q ? p : null));
    setError(null);
    // The first page may have left at sign-in already (api.ts): take it; it was read before the inbox
    // room joined, so the join's reset reads it again once it is shown.
    load(takeEarlyPage(query) ?? listConversations(query));
    return () => {
      gone = true;
      unsubscribe();
    };
  }, [view, status, type, sort, q, reload, subscribe]);

  const more = async () => {
    if (!page?.nextCursor) return;
    try {
      const res = await listConversations({ view, status, type, sort, q, cursor: page.nextCursor });
      setPage((p) => {
        if (!p) return p;
        const have = new Set(p.items.map((i) => i.id));
        return { ...p, items: [...p.items, ...res.items.filter((i) => !have.has(i.id))], nextCursor: res.nextCursor };
      });
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  };

  // Infinite scroll: the next page loads when the "more" button comes into view (it stays clickable).
  const moreButton = useRef<HTMLButtonElement>(null);
  const moreRef = useRef(more);
  moreRef.current = more;
  useEffect(() => {
    const el = moreButton.current;
    if (!el || typeof IntersectionObserver === "undefined") return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) void moreRef.current();
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, [page?.nextCursor]);

  const views: View[] = teamView ? ["mine", "team"] : ["mine"];
  return (
    <main class="inbox">
      <div class="tabs" role="tablist" aria-label={t("title")}>
        {views.map((v) => (
          <a key={v} role="tab" aria-selected={v === view} href={href({ screen: "inbox", view: v, status })}>
            {t(v)}
          </a>
        ))}
      </div>
      <div class="tabs status" role="tablist" aria-label={t("all")}>
        {STATUSES.map((s) => (
          <a key={s} role="tab" aria-selected={s === status} data-status={s} href={href({ screen: "inbox", view, status: s })}>
            {t(s)} <span class="count">{tabCount(counts, view, s, type)}</span>
          </a>
        ))}
      </div>
      <div class="filters">
        <select
          aria-label={`${t("regular")} / ${t("collaborative")}`}
          value={type}
          onChange={(e) => setType(e.currentTarget.value as TypeFilter)}
        >
          {(["all", "regular", "collaborative"] as const).map((k) => (
            <option key={k} value={k}>
              {t(k)}
            </option>
          ))}
        </select>
        <select aria-label={t("sort")} value={sort} disabled={status === "closed"} onChange={(e) => setSort(e.currentTarget.value as Sort)}>
          <option value="last_message">{t("sortLastMessage")}</option>
          <option value="overdue">{t("sortOverdue")}</option>
        </select>
        <input
          type="search"
          aria-label={t("searchList")}
          placeholder={t("searchList")}
          maxLength={100}
          value={search}
          onInput={(e) => setSearch(e.currentTarget.value)}
        />
      </div>
      {page?.newResults && (
        <button type="button" class="hint" onClick={() => setReload((n) => n + 1)}>
          {t("newResults")}
        </button>
      )}
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      <BulkBar
        t={t}
        view={view}
        status={status}
        selected={selected.filter((id) => page?.items.some((i) => i.id === id))}
        items={page?.items ?? []}
        clear={() => setSelected([])}
      />
      {page && page.items.length > 0 && (
        <label class="select-all">
          <input
            type="checkbox"
            checked={page.items.every((i) => selected.includes(i.id))}
            onChange={(e) => setSelected(e.currentTarget.checked ? page.items.map((i) => i.id) : [])}
          />
          {t("selectAll")}
        </label>
      )}
      {!page ? (
        <p>{t("loading")}</p>
      ) : page.items.length === 0 ? (
        <p class="empty">{t("empty")}</p>
      ) : (
        <ul class="list" aria-label={`${t(view)} · ${t(status)}`}>
          {page.items.map((item) => (
            <Row key={item.id} t={t} item={item} view={view} checked={selected.includes(item.id)} toggle={toggle} />
          ))}
        </ul>
      )}
      {page?.nextCursor && (
        <button type="button" class="more" ref={moreButton} onClick={more}>
          {t("more")}
        </button>
      )}
    </main>
  );
}

function Row(props: { t: T; item: ListItem; view: View; checked: boolean; toggle: (id: string) => void }) {
  const { t, item, view } = props;
  const when = item.lastMessageAt ? new Date(item.lastMessageAt).toLocaleString(t.locale, { dateStyle: "short", timeStyle: "short" }) : "";
  return (
    <li class="item" data-id={item.id}>
      <input
        type="checkbox"
        class="pick"
        aria-label={`${t("select")} ${item.customer.name}`}
        checked={props.checked}
        onChange={() => props.toggle(item.id)}
      />
      <a href={href({ screen: "conversation", id: item.id, view })}>
        <div class="line">
          {item.pinned && view === "mine" && (
            <span class="pin" role="img" title={t("pinned")} aria-label={t("pinned")}>
              <PinIcon />
            </span>
          )}
          <strong class="customer">{item.customer.name}</strong>
          <span class="channel">{item.channel}</span>
          {item.collaborative && <span class="tag">{t("collaborative")}</span>}
          {item.overdue && <span class="tag overdue">{t("overdue")}</span>}
          <time class="when">{when}</time>
          {item.unreadCount > 0 && (
            <span class="badge" title={t("unread")}>
              {item.unreadCount}
              <span class="sr-only"> {t("unread")}</span>
            </span>
          )}
        </div>
        <div class="preview">{item.lastMessagePreview ?? ""}</div>
        <div class="people">
          {t("follower")}: {item.follower?.name ?? t("nobody")}
          {item.collaborators.length > 0 && ` · ${t("collaborators")}: ${item.collaborators.map((c) => c.name).join("、")}`}
        </div>
      </a>
    </li>
  );
}
